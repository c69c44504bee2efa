"""``resilience explain``: a status code, a body (argument or stdin), headers and
a provider in; kind, bucket, retryable, failover, retry_after, code and hint out."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest

from resilience._cli.explain import add_arguments, run
from resilience.cli import main

FIELDS = ("kind", "bucket", "retryable", "failover", "retry_after", "code", "hint")


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(["explain", *argv, "--json"]) == 0
    out: dict[str, object] = json.loads(capsys.readouterr().out)
    return out


def test_bare_status_code_prints_every_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "429"]) == 0
    out = capsys.readouterr().out
    for field in FIELDS:
        assert f"{field}:" in out
    assert "rate_limit" in out and "auth_quota" in out and "retryable:   yes" in out


def test_json_output_for_machines(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "503")
    assert set(FIELDS) <= data.keys()
    assert data["kind"] == "overloaded" and data["retryable"] is True and data["status"] == 503


def test_status_body_header_and_provider(capsys: pytest.CaptureFixture[str]) -> None:
    body = json.dumps(
        {"error": {"message": "Unsupported parameter: 'max_tokens' is not supported with this "
                   "model. Use 'max_completion_tokens' instead.", "param": "max_tokens",
                   "code": "unsupported_parameter"}}
    )  # fmt: skip
    data = _json(
        capsys, "--status", "400", "--body", body, "--header", "x-request-id: r1",
        "--provider", "openai",
    )  # fmt: skip
    assert data["kind"] == "unsupported_feature" and data["feature"] == "max_tokens"
    assert data["code"] == "unsupported_parameter" and data["provider"] == "openai"


def test_retry_after_from_a_header(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "--status", "429", "--header", "Retry-After: 3", "--header", "x: y")
    assert data["retry_after"] == 3.0
    main(["explain", "--status", "429", "--header", "retry-after: 3"])
    assert "retry_after: 3s" in capsys.readouterr().out


def test_body_from_stdin_with_dash() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--status", "529", "--body", "-", "--json"])
    stdin = io.StringIO(
        '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    )
    stdout = io.StringIO()
    assert run(args, stdin=stdin, stdout=stdout) == 0
    data = json.loads(stdout.getvalue())
    assert data["kind"] == "overloaded" and data["code"] == "overloaded_error"


def test_piped_stdin_is_read_when_no_body_is_given() -> None:
    """The real command in a subprocess, body piped in as a shell user would."""
    body = (
        '{"error": {"message": "Your credit balance is too low", "type": "invalid_request_error"}}'
    )
    done = subprocess.run(
        [sys.executable, "-m", "resilience", "explain", "--status", "400", "--json"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout)["kind"] == "billing"


def test_free_text_positional_is_classified(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, "prompt is too long: 300000 tokens > 200000 maximum")
    assert data["kind"] == "context_length"


def test_nothing_to_explain_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 2
    assert "give a status code" in capsys.readouterr().err


def test_secrets_in_a_body_do_not_reach_the_output(capsys: pytest.CaptureFixture[str]) -> None:
    key = "sk-proj-Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2"
    body = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}})
    main(["explain", "--status", "401", "--body", body, "--header", f"Authorization: Bearer {key}"])
    out = capsys.readouterr().out
    assert key not in out and "Zx9Yw8" not in out and "auth" in out


# One real body per class of issue #14: explain shows the verdict and the hint
# that goes with it (see tests/classify_cases.py for where each was seen).
CLASS_BODIES = [
    pytest.param(
        "429",
        '{"error":{"message":"The engine is currently overloaded, please try again later",'
        '"type":"engine_overloaded_error"}}',
        {"kind": "overloaded", "retryable": True, "failover": True},
        "out of capacity",
        id="type-outranks-status",
    ),
    pytest.param(
        "400",
        '{"error":{"code":400,"message":"User location is not supported for the API use.",'
        '"status":"FAILED_PRECONDITION"}}',
        {"kind": "permission", "retryable": False, "failover": True},
        "country or region",
        id="location-block",
    ),
    pytest.param(
        "200",
        'event: error\ndata: {"type":"error","error":{"details":null,"type":"api_error",'
        '"message":"Internal server error"}}\n\n',
        {"kind": "server", "retryable": True},
        "stream that had already started",
        id="error-inside-200-stream",
    ),
    pytest.param(
        "429",
        '{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Quota exceeded for '
        "metric: generate_content_paid_tier_input_token_count\\nPlease retry in "
        '47.434392449s."}}',
        {"kind": "rate_limit", "retryable": True, "retry_after": 47.434392449},
        "wait it asks for",
        id="retry-hint-in-body",
    ),
    pytest.param(
        "429",
        '{"error":{"message":"Rate limit exceeded: free-models-per-day.",'
        '"type":"rate_limit_error","code":"429"}}',
        {"kind": "quota", "retryable": False, "failover": True},
        "per-day",
        id="per-day-quota",
    ),
]


@pytest.mark.parametrize(("status", "body", "expected", "hint"), CLASS_BODIES)
def test_explain_shows_verdict_and_hint_for_each_class(
    capsys: pytest.CaptureFixture[str],
    status: str,
    body: str,
    expected: dict[str, object],
    hint: str,
) -> None:
    data = _json(capsys, "--status", status, "--body", body)
    for key, value in expected.items():
        assert data[key] == value, (key, data)
    assert hint in str(data["hint"])
    assert main(["explain", "--status", status, "--body", body]) == 0
    text = capsys.readouterr().out
    assert f"kind:        {expected['kind']}" in text and "hint:" in text and hint in text
