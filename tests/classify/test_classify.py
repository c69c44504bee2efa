"""classify() on raw responses: the status table, real provider cases, what the
status hides, streams, retry_after, messages, hints, and that it never raises."""

from __future__ import annotations

import binascii
import json
import math
import struct
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience._classify.classify import STATUS_KINDS, classify
from resilience._core.failure import BUCKET_OF, Bucket, Failure, Kind
from tests.classify.cases import CASES

NOW = 1_700_000_000.0

# ------------------------------------------------------------------ status table

SEED_TABLE = {
    # provider-error-distribution seed (bucket by kind) ...
    429: (Kind.RATE_LIMIT, Bucket.AUTH_QUOTA),
    400: (Kind.BAD_REQUEST, Bucket.CLIENT_ERROR),
    403: (Kind.PERMISSION, Bucket.AUTH_QUOTA),
    503: (Kind.OVERLOADED, Bucket.SERVER_ERROR),
    502: (Kind.GATEWAY, Bucket.GATEWAY),
    529: (Kind.OVERLOADED, Bucket.SERVER_ERROR),
    422: (Kind.BAD_REQUEST, Bucket.CLIENT_ERROR),
    500: (Kind.SERVER, Bucket.SERVER_ERROR),
    404: (Kind.NOT_FOUND, Bucket.NOT_FOUND),
    402: (Kind.BILLING, Bucket.AUTH_QUOTA),
    504: (Kind.GATEWAY, Bucket.GATEWAY),
    401: (Kind.AUTH, Bucket.AUTH_QUOTA),
    520: (Kind.SERVER, Bucket.SERVER_ERROR),
    499: (Kind.CLIENT_CLOSED, Bucket.CLIENT_ERROR),
    # ... plus the codes the issue adds.
    408: (Kind.TIMEOUT, Bucket.NETWORK),
    409: (Kind.SERVER, Bucket.SERVER_ERROR),
    413: (Kind.PAYLOAD_TOO_LARGE, Bucket.CLIENT_ERROR),
    498: (Kind.AUTH, Bucket.AUTH_QUOTA),
    524: (Kind.GATEWAY, Bucket.GATEWAY),
    # 451 Unavailable For Legal Reasons: how some gateways refuse a country.
    451: (Kind.PERMISSION, Bucket.AUTH_QUOTA),
}


@pytest.mark.parametrize(("status", "expected"), sorted(SEED_TABLE.items()))
def test_bare_status_maps_as_the_design_table_says(
    status: int, expected: tuple[Kind, Bucket]
) -> None:
    f = classify(status=status)
    assert (f.kind, f.bucket, f.status) == (*expected, status)
    assert STATUS_KINDS[status] is expected[0]


def test_409_is_retryable_without_blaming_the_target() -> None:
    """409 is lock contention the SDKs retry: retry it, but do not trip the breaker."""
    f = classify(status=409)
    assert f.retryable and not f.trips_breaker


def test_unlisted_statuses_fall_back_by_class() -> None:
    assert classify(status=418).kind is Kind.BAD_REQUEST
    assert classify(status=507).kind is Kind.SERVER
    assert classify(status=302).kind is Kind.UNKNOWN and classify(status=302).status == 302
    assert classify(status=501).retryable is False


def test_status_as_string_or_garbage() -> None:
    assert classify(status="429").kind is Kind.RATE_LIMIT  # type: ignore[arg-type]
    assert classify(status="lots").kind is Kind.UNKNOWN  # type: ignore[arg-type]
    assert classify(status=True).status is None  # type: ignore[arg-type]


# -------------------------------------------------------------- real provider cases


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_real_provider_error(case: dict[str, Any]) -> None:
    """Kind, retryability and retry_after of a response seen in the wild."""
    f = classify(
        status=case["status"],
        headers=case["headers"],
        body=case["body"],
        provider=case["provider"],
        now=NOW,
    )
    assert f.kind.value == case["kind"], (case["source"], f)
    assert f.bucket is BUCKET_OF[f.kind]
    assert f.retryable is case["retryable"], (case["source"], f)
    if case["retry_after"] is None:
        assert f.retry_after is None, f
    else:
        assert f.retry_after == pytest.approx(case["retry_after"], rel=1e-6)
    if case["feature"] is not None:
        assert f.feature == case["feature"]
    assert len(f.message) <= 300
    assert f.hint


def test_at_least_sixty_cited_cases() -> None:
    assert len(CASES) >= 60
    assert all(c["source"].startswith("https://") for c in CASES)
    assert len({c["id"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("group", ["type", "location", "stream", "retry"])
def test_each_misreading_class_has_real_wording_from_three_providers(group: str) -> None:
    """Issue #14's classes: every one is pinned by bodies from 3+ providers."""
    cases = [c for c in CASES if c["group"] == group]
    assert all(c["origin"] for c in cases)
    assert len({c["origin"] for c in cases}) >= 3, sorted({c["origin"] for c in cases})


# ------------------------------------------------------------ what the status hides


def test_a_429_insufficient_quota_is_billing_and_not_retried() -> None:
    f = classify(status=429, body={"error": {"code": "insufficient_quota", "message": "x"}})
    assert f.kind is Kind.BILLING and not f.retryable and f.failover


@pytest.mark.parametrize(
    "message",
    [
        "Your credit balance is too low to access the API.",
        "Insufficient balance, please top up.",
        "Not enough credits to complete this request",
    ],
)
def test_a_400_about_credits_is_billing(message: str) -> None:
    assert classify(status=400, body={"error": {"message": message}}).kind is Kind.BILLING


@pytest.mark.parametrize(
    "message",
    [
        "API key not valid. Please pass a valid API key.",
        "Incorrect API key provided: sk-proj-****1234.",
        "invalid x-api-key",
        "The API key you provided has expired.",
    ],
)
def test_a_400_or_403_about_the_key_is_auth(message: str) -> None:
    for status in (400, 403):
        assert classify(status=status, body={"error": {"message": message}}).kind is Kind.AUTH


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "This model's maximum context length is 4096 tokens, you requested 5000."),
        (400, "prompt is too long: 210000 tokens > 200000 maximum"),
        (400, "Input is too long for requested model."),
        (413, "The input token count (2000000) exceeds the maximum number of tokens allowed"),
        (400, "Your input exceeds the context window of this model."),
        (422, "`inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 and 512"),
    ],
)
def test_context_overflow_in_any_wording(status: int, message: str) -> None:
    f = classify(status=status, body={"error": {"message": message}})
    assert f.kind is Kind.CONTEXT_LENGTH and f.failover and not f.retryable


@pytest.mark.parametrize(
    ("message", "param", "feature"),
    [
        ("This model does not support tools.", None, "tools"),
        ("tool_choice is not supported for this model", None, "tools"),
        ("Structured outputs are not supported by this model", None, "json"),
        ("'response_format' is not supported", None, "json"),
        ("Streaming is not supported for this model.", None, "stream"),
        ("Unsupported parameter: 'parallel_tool_calls'.", None, "parallel_tool_calls"),
        ("Unsupported value: 'temperature' does not support 0.3.", "temperature", "temperature"),
        ("'max_tokens' is not supported, use 'max_completion_tokens'.", None, "max_tokens"),
        ("This model does not support image inputs.", None, "images"),
    ],
)
def test_unsupported_feature_names_the_feature(
    message: str, param: str | None, feature: str
) -> None:
    f = classify(status=400, body={"error": {"message": message, "param": param}})
    assert f.kind is Kind.UNSUPPORTED_FEATURE
    assert f.feature == feature
    assert f"'{feature}'" in f.hint  # the hint names what to turn off


def test_not_supported_without_a_feature_stays_a_bad_request() -> None:
    f = classify(status=400, body={"error": {"message": "This operation is not supported."}})
    assert f.kind is Kind.BAD_REQUEST and f.feature is None


def test_single_request_over_the_per_minute_limit_is_payload_too_large() -> None:
    f = classify(
        status=429,
        body={"error": {"message": "Request too large for gpt-4o on tokens per min (TPM): "
                        "Limit 30000, Requested 45000.", "code": "rate_limit_exceeded"}},
    )  # fmt: skip
    assert f.kind is Kind.PAYLOAD_TOO_LARGE and not f.retryable


def test_a_daily_limit_is_a_quota_unless_the_provider_names_a_short_wait() -> None:
    """Rolling per-day windows (OpenAI RPD, Groq TPD) free up: that is a rate limit."""
    daily = "Rate limit reached on requests per day (RPD): Limit 1000, Used 1000, Requested 1."
    f = classify(status=429, body={"error": {"message": daily}})
    assert f.kind is Kind.QUOTA and not f.retryable
    g = classify(status=429, body={"error": {"message": daily + " Please try again in 8.64s."}})
    assert g.kind is Kind.RATE_LIMIT and g.retryable and g.retry_after == 8.64


def test_a_404_stays_not_found_whatever_it_says() -> None:
    body = {"error": {"message": "The model `x` does not exist or you do not have access to it."}}
    assert classify(status=404, body=body).kind is Kind.NOT_FOUND


def test_wording_alone_never_turns_a_4xx_into_an_outage() -> None:
    body = {"error": {"message": "Invalid value for 'timeout': the server is overloaded?"}}
    assert classify(status=400, body=body).kind is Kind.BAD_REQUEST


# -------------------------------------------------------------------------- streams


def _eventstream_frame(headers: dict[str, str], payload: bytes) -> bytes:
    raw = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", binascii.crc32(message))


def test_bedrock_event_stream_exception_in_a_200_stream() -> None:
    from botocore.eventstream import EventStreamBuffer  # the real decoder accepts our frame

    chunk = _eventstream_frame(
        {":message-type": "event", ":event-type": "chunk"}, b'{"bytes":"eyJ0eXBlIjoicGluZyJ9"}'
    )
    error = _eventstream_frame(
        {":message-type": "exception", ":exception-type": "throttlingException"},
        b'{"message":"Too many requests, please wait before trying again."}',
    )
    buffer = EventStreamBuffer()
    buffer.add_data(chunk + error)
    assert [m.headers[":message-type"] for m in buffer] == ["event", "exception"]
    f = classify(status=200, body=chunk + error)
    assert f.kind is Kind.RATE_LIMIT and f.retryable
    assert f.code == "throttlingException"
    stream_error = _eventstream_frame(
        {":message-type": "exception", ":exception-type": "modelStreamErrorException"},
        b'{"message":"Model stream error","originalStatusCode":500}',
    )
    assert classify(body=stream_error).kind is Kind.SERVER


def test_sse_data_line_with_an_error_object() -> None:
    body = 'data: {"id":"1","choices":[]}\n\ndata: {"error": {"message": "Rate limit", ' \
        '"code": 429}}\n\n'  # fmt: skip
    f = classify(status=200, body=body)
    assert f.kind is Kind.RATE_LIMIT and f.status == 429


def test_ndjson_stream_with_an_error_line() -> None:
    body = b'{"model":"x","response":"Hi"}\n{"error":"an unexpected EOF occurred: timed out"}\n'
    assert classify(body=body).kind is Kind.TIMEOUT


# ----------------------------------------------------------------------- retry_after


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({"retry-after-ms": "2500"}, None, 2.5),
        ({"retry-after": "7"}, None, 7.0),
        (
            {
                "retry-after": "Tue, 14 Nov 2023 22:14:00 GMT",
                "date": "Tue, 14 Nov 2023 22:13:20 GMT",
            },
            None,
            40.0,
        ),
        # a rate limit without retry-after: the reset of the dimension the message names
        (
            {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"},
            {"error": {"message": "Rate limit reached on tokens per min", "type": "tokens"}},
            360.0,
        ),
        (
            {"x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "6m0s"},
            {"error": {"message": "Rate limit reached on requests per min"}},
            2.0,
        ),
        # nothing named: the exhausted dimension
        (
            {
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "12s",
                "x-ratelimit-remaining-tokens": "900",
                "x-ratelimit-reset-tokens": "1m",
            },
            None,
            12.0,
        ),
        (None, {"error": {"message": "Please retry in 20.5s."}}, 20.5),
        (None, {"error": {"message": "Retry after 55 seconds."}}, 55.0),
        (None, {"error": {"message": "Please try again in 1m9.696s."}}, 69.696),
    ],
)
def test_retry_after_sources(headers: dict[str, str] | None, body: Any, expected: float) -> None:
    f = classify(status=429, headers=headers, body=body, now=NOW)
    assert f.kind is Kind.RATE_LIMIT
    assert f.retry_after == pytest.approx(expected)


def test_reset_headers_are_not_a_wait_for_other_kinds() -> None:
    f = classify(status=400, headers={"x-ratelimit-reset-requests": "9s"}, now=NOW)
    assert f.retry_after is None


def test_gemini_retry_info_object_form() -> None:
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo",
         "retryDelay": {"seconds": 3, "nanos": 500000000}}]}}  # fmt: skip
    assert classify(status=429, body=body).retry_after == pytest.approx(3.5)


# ------------------------------------------------------------------ message and hint


def test_message_is_redacted_short_and_free_of_headers() -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    body = {"error": {"message": f"Incorrect API key provided: {key}. " + "x" * 1000}}
    f = classify(
        status=401,
        headers={"authorization": "Bearer " + key, "x-api-key": key},
        body=body,
    )
    assert key not in f.message and "A1b2C3d4" not in f.message
    assert "Bearer" not in f.message and len(f.message) <= 300
    assert key not in repr(f)


@pytest.mark.parametrize("kind", list(Kind))
def test_every_kind_has_a_specific_hint(kind: Kind) -> None:
    hint = Failure.of(kind).hint
    assert 40 < len(hint) < 400


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (401, ("401", "key", "project")),
        (403, ("403", "access", "endpoint")),
        (402, ("credits", "payment", "paused", "restriction")),
        (404, ("model name", "access")),
        (429, ("parallel", "lighter", "another provider")),
        (400, ("structured JSON", "streaming", "tools")),
        (500, ("5xx",)),
    ],
)
def test_hints_cover_the_help_seed(status: int, words: tuple[str, ...]) -> None:
    hint = classify(status=status).hint
    for word in words:
        assert word in hint, (status, word, hint)


def test_custom_endpoint_hint_mentions_base_url_key_format_and_models() -> None:
    hint = classify(status=404, provider="my-vllm-box").hint
    assert "base URL" in hint and "key format" in hint and "model list" in hint
    assert "base URL" not in classify(status=404, provider="openai").hint


# --------------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "body",
    [
        None, "", "   ", b"", b"\x00\x01\x02\xff", "{", '{"error": ', "null", "[]", "{}",
        '"just a string"', 42, 3.5, [1, 2], {"error": None}, {"error": 7}, {"error": []},
        {"error": {"message": {"nested": ["x"]}}}, "<html><body>oops", "data: [DONE]\n\n",
        "\x00" * 40, json.dumps({"error": {"message": "x" * 200_000}}),
        {"error": {"details": "not-a-list", "metadata": "nope"}},
    ],
)  # fmt: skip
def test_garbage_bodies_classify_by_status(body: Any) -> None:
    f = classify(status=503, body=body)
    assert f.kind is Kind.OVERLOADED and f.status == 503


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
_keys = st.sampled_from(
    ["error", "message", "type", "code", "status", "details", "metadata", "raw", "param",
     "@type", "retryDelay", "innererror", "retry-after", "x-ratelimit-reset-tokens"]
)  # fmt: skip
_provider_json = st.recursive(
    st.none() | st.integers() | st.text(max_size=40) | st.sampled_from(["429", "37s", "1m"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=25,
)


_events = st.sampled_from(["error", "response.failed", "message", "", "x.error", "ping"])
_stream_bodies = st.one_of(
    st.builds(lambda e, p: f"event: {e}\ndata: {json.dumps(p)}\n\n", _events, _provider_json),
    st.builds(
        lambda h, p: _eventstream_frame(h, json.dumps(p).encode()),
        st.dictionaries(st.sampled_from([":message-type", ":exception-type", ":error-code"]),
                        st.sampled_from(["exception", "error", "event", "throttlingException",
                                         "x" * 40, ""]), max_size=3),
        _provider_json,
    ),
    st.builds(lambda c, m: f"An error occurred ({c}) when calling the X operation: {m}",
              st.text(max_size=20), st.text(max_size=60)),
    st.lists(_provider_json, max_size=6).map(lambda xs: json.dumps(xs)[:-1]),  # cut off
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    status=st.one_of(st.none(), st.integers(-5, 1000), st.text(max_size=4)),
    headers=st.one_of(
        st.none(),
        st.dictionaries(st.one_of(_keys, st.text(max_size=20)), st.text(max_size=30), max_size=6),
        st.lists(st.tuples(st.binary(max_size=10), st.binary(max_size=10)), max_size=3),
    ),
    body=st.one_of(
        st.binary(max_size=200), st.text(max_size=200), _json, _provider_json, _stream_bodies
    ),
    now=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_never_raises_and_bucket_matches_kind(
    status: Any, headers: Any, body: Any, now: float | None
) -> None:
    f = classify(status=status, headers=headers, body=body, now=now)
    assert isinstance(f, Failure)
    assert f.bucket is BUCKET_OF[f.kind]
    assert f.retry_after is None or (math.isfinite(f.retry_after) and f.retry_after >= 0)
    assert len(f.message) <= 300
    if body is None and status is None:
        assert f.kind is Kind.UNKNOWN


# ------------------------------------------------ the provider's words outrank the status


@pytest.mark.parametrize(
    "error",
    [
        # identifiers no table lists, read by their stem
        {"message": "busy", "type": "server_is_overloaded"},
        {"message": "busy", "code": "model_capacity_exhausted"},
        {"message": "x", "type": "engine_overloaded_error"},
        # a capacity reason travelling with Google's generic throttling codes
        {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "x", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
             "reason": "MODEL_CAPACITY_EXHAUSTED"}]},
        # no identifier at all, and no word of a limit
        {"message": "The service is temporarily overloaded, please try again later"},
    ],
)  # fmt: skip
def test_a_429_the_provider_calls_a_capacity_problem_is_overloaded(error: Any) -> None:
    f = classify(status=429, body={"error": error})
    assert f.kind is Kind.OVERLOADED and f.retryable and f.failover and f.trips_breaker
    assert "capacity" in f.hint


def test_overload_wording_on_a_429_yields_to_any_limit_evidence() -> None:
    """'High demand' next to a rate-limit code, or next to rate-limit words, is a limit."""
    coded = {"error": {"code": "RATE_LIMITED", "message": "The system is experiencing high "
                       "demand. Please retry after 20 seconds."}}  # fmt: skip
    worded = {"error": {"message": "Overloaded: you exceeded your rate limit"}}
    for body in (coded, worded):
        assert classify(status=429, body=body).kind is Kind.RATE_LIMIT


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ({"type": "credit_limit", "message": "Your rate limit is 60 queries per minute."},
         Kind.RATE_LIMIT),
        ({"code": "request_quota_exceeded", "message": "Tokens per minute limit exceeded"},
         Kind.RATE_LIMIT),
        ({"type": "credit_limit", "message": "Your credit limit has been reached."},
         Kind.BILLING),
        ({"type": "insufficient_quota", "message": "You exceeded your current quota, please "
          "check your plan and billing details."}, Kind.BILLING),
        ({"code": "request_quota_exceeded", "message": "Tokens per day limit exceeded"},
         Kind.QUOTA),
    ],
)  # fmt: skip
def test_a_billing_or_quota_type_is_refined_by_the_window_its_words_name(
    error: Any, kind: Kind
) -> None:
    """Per minute: a rate limit (retried); per day or money words: not retried."""
    f = classify(status=429, body={"error": error})
    assert f.kind is kind
    assert f.retryable is (kind is Kind.RATE_LIMIT)


@pytest.mark.parametrize(
    "body",
    [
        {"error": {"message": "No such thing", "code": "model_not_available"}},
        {"error": {"message": "The requested model is not supported.",
                   "code": "model_not_supported"}},
        {"error": {"message": "The dedicated endpoint for acme/x-7b is not running."}},
        {"message": "Invocation of model ID x with on-demand throughput isn't supported. "
                    "Retry your request with the ARN of an inference profile."},
        {"error": {"code": 400, "status": "FAILED_PRECONDITION",
                   "message": "Publisher Model m is not servable in region us-central1."}},
    ],
)  # fmt: skip
def test_a_model_this_target_does_not_serve_is_not_found_not_a_bad_request(body: Any) -> None:
    f = classify(status=400, body=body)
    assert f.kind is Kind.NOT_FOUND and f.failover and not f.retryable


def test_deployment_words_do_not_override_auth_permission_or_limits() -> None:
    words = {"error": {"message": "Use an inference profile for this model."}}
    assert classify(status=401, body=words).kind is Kind.AUTH
    assert classify(status=403, body=words).kind is Kind.PERMISSION
    assert classify(status=429, body=words).kind is Kind.RATE_LIMIT


# ------------------------------------------------------------------- location blocks


@pytest.mark.parametrize("status", [400, 403, 404, 429, 451, 500, 503, 200, None])
def test_a_location_block_is_permission_with_failover_whatever_the_status(
    status: int | None,
) -> None:
    for message in (
        "User location is not supported for the API use.",
        "Country, region, or territory not supported",
        "Access to Anthropic models is not allowed from unsupported countries, regions, or "
        "territories.",
        "This model is not available in your region.",
    ):
        f = classify(status=status, body={"error": {"message": message}})
        assert f.kind is Kind.PERMISSION, (status, message)
        assert f.failover and not f.retryable and "country or region" in f.hint


def test_location_wins_over_reading_a_feature_out_of_the_words() -> None:
    body = {"error": {"message": "Image generation is not available in your country."}}
    f = classify(status=400, body=body)
    assert f.kind is Kind.PERMISSION and f.feature is None


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Unsupported region: us-west-3", Kind.BAD_REQUEST),
        ("Parameter 'region' is not supported for this endpoint", Kind.BAD_REQUEST),
        ("Publisher Model m is not servable in region global.", Kind.NOT_FOUND),
    ],
)
def test_serving_regions_are_not_the_callers_location(message: str, kind: Kind) -> None:
    assert classify(status=400, body={"error": {"message": message}}).kind is kind


def test_a_location_identifier_alone_is_enough() -> None:
    body = {"type": "error", "error": {"type": "RegionError", "message": "Nope."}}
    assert classify(status=400, body=body).kind is Kind.PERMISSION


# ---------------------------------------------------------- errors inside a 200 stream


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('event: error\ndata: {"type":"error","error":{"type":"api_error",'
         '"message":"Internal server error"}}\n\n', Kind.SERVER),
        ('event: error\ndata: {"type":"error","error":{"type":"invalid_request_error",'
         '"message":"messages: roles must alternate"}}\n\n', Kind.BAD_REQUEST),
        ('event: response.failed\ndata: {"type":"response.failed","response":{"error":'
         '{"code":"rate_limit_exceeded","message":"slow down"}}}\n\n', Kind.RATE_LIMIT),
        ('{"response":"a","done":false}\n{"error":"something odd happened"}\n', Kind.SERVER),
        ('data: {"code":503,"message":"unavailable","metadata":{}}\n\n', Kind.OVERLOADED),
    ],
)  # fmt: skip
def test_a_2xx_status_does_not_hide_what_a_stream_error_says(body: str, kind: Kind) -> None:
    """The 200 describes the start of the stream; the error event decides."""
    f = classify(status=200, body=body)
    assert f.kind is kind
    assert "stream that had already started" in f.hint


def test_a_2xx_without_an_error_in_it_stays_unknown() -> None:
    assert classify(status=200).kind is Kind.UNKNOWN
    assert classify(status=200, body='data: {"choices":[]}\n\ndata: [DONE]\n\n').kind is (
        Kind.UNKNOWN
    )


@pytest.mark.parametrize(
    ("exception", "kind", "retryable"),
    [
        ("throttlingException", Kind.RATE_LIMIT, True),
        ("serviceUnavailableException", Kind.OVERLOADED, True),
        ("modelStreamErrorException", Kind.SERVER, True),
        ("internalServerException", Kind.SERVER, True),
        ("validationException", Kind.BAD_REQUEST, False),
    ],
)
def test_bedrock_stream_exceptions_in_every_form(
    exception: str, kind: Kind, retryable: bool
) -> None:
    """The event-stream frame, botocore's sentence and the JSON union agree."""
    frame = _eventstream_frame(
        {":message-type": "exception", ":exception-type": exception}, b'{"message":"m"}'
    )
    sentence = f"An error occurred ({exception}) when calling the ConverseStream operation: m"
    union = {exception: {"message": "m"}}
    for status, body in ((200, frame), (None, sentence), (200, union)):
        f = classify(status=status, body=body)
        assert (f.kind, f.retryable) == (kind, retryable), (body, f)


# ------------------------------------------------------------ retry hints in bodies


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (429, {"error": {"message": "Rate limit exceeded: free-models-per-day.",
                         "type": "rate_limit_error"}}),
        (None, "An error occurred (ThrottlingException) when calling the Converse operation: "
               "Too many tokens per day, please wait before trying again."),
        (429, {"error": {"message": "Quota exceeded for limit 'Requests per day per user'",
                         "status": "RESOURCE_EXHAUSTED"}}),
    ],
)  # fmt: skip
def test_per_day_wording_is_a_quota_that_fails_over_instead_of_retrying(
    status: int | None, body: Any
) -> None:
    f = classify(status=status, body=body)
    assert f.kind is Kind.QUOTA and not f.retryable and f.failover
    assert "per-day" in f.hint


def test_a_quota_that_resets_hours_away_keeps_the_wait_it_names() -> None:
    f = classify(status=429, body="Your quota will reset after 12h34m16s.")
    assert f.kind is Kind.QUOTA and not f.retryable and f.retry_after == 45256.0


def test_retry_info_outranks_the_wait_in_the_words() -> None:
    """Structured RetryInfo is read before a 'Please retry in' sentence."""
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED",
                      "message": "Quota exceeded. Please retry in 47.434392449s.",
                      "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                   "retryDelay": "47s"}]}}  # fmt: skip
    assert classify(status=429, body=body).retry_after == 47.0
    del body["error"]["details"]
    assert classify(status=429, body=body).retry_after == pytest.approx(47.434392449)


@pytest.mark.parametrize("provider", [None, "openai", "my-vllm-box"])
def test_the_bare_status_fast_path_gives_the_full_paths_verdict(provider: str | None) -> None:
    """A status alone skips body parsing; the answer must not change for any status."""
    for status in [*range(100, 600), None, -1, "429", "x"]:
        fast = classify(status=status, provider=provider)  # type: ignore[arg-type]
        full = classify(status=status, headers={"x-request-id": "r"}, provider=provider)  # type: ignore[arg-type]
        assert fast == full, status
