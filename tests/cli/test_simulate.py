"""``resilience simulate``: the JSON contract, counts that add up, and the
pipeline failing fewer calls than the SDKs' own retries on the same traffic."""

from __future__ import annotations

import json

import pytest

from resilience import cli
from resilience._cli.simulate import SimulationConfig
from resilience._cli.simulate_report import Tally, percentile, summarize
from resilience._cli.simulate_workload import DEFAULT_PROVIDERS, Workload
from resilience._core.errors import ConfigError, ProviderError
from resilience._core.events import AttemptEnded, CallEnded, FallbackHop, RetryScheduled
from resilience._core.failure import Failure, Kind

KEYS = {
    "calls",
    "succeeded",
    "failed",
    "provider_429s",
    "retries",
    "fallbacks",
    "breaker_trips",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "failures_by_bucket",
}


def test_simulate_json_last_line_has_both_sides_and_the_pipeline_fails_fewer_calls(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A 3-second run per side through the real SDKs: the last stdout line is the
    JSON contract, every count is consistent, and the pipeline fails fewer calls
    and receives fewer 429s than the baseline."""
    code = cli.main(["simulate", "--duration", "3", "--json", "--seed", "7"])
    assert code == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert {"pipeline", "baseline"} <= set(result)
    for name in ("pipeline", "baseline"):
        side = result[name]
        assert set(side) >= KEYS, name
        assert side["calls"] > 0
        assert side["calls"] == side["succeeded"] + side["failed"]
        assert sum(side["failures_by_bucket"].values()) == side["failed"]
        assert 0 < side["p50_ms"] <= side["p95_ms"] <= side["p99_ms"]
        assert side["requests"] >= side["calls"] - side["unfinished"]
    pipe, base = result["pipeline"], result["baseline"]
    assert pipe["failed"] < base["failed"]
    assert pipe["provider_429s"] < base["provider_429s"]
    # Only the pipeline falls back or trips a breaker; the outage on openai makes it do both.
    assert base["fallbacks"] == 0 and base["breaker_trips"] == 0
    assert pipe["breaker_trips"] >= 1 and pipe["fallbacks"] >= 1
    # The baseline's retries are counted from what the SDK sent: requests beyond one per call.
    assert base["retries"] > 0


def test_tally_attributes_each_provider_error_to_what_handled_it() -> None:
    """A 503 followed by a retry, then a 503 followed by a fallback hop, then a
    400 that reached the caller: each bucket gets the action that followed it."""
    from resilience._core.call import Call

    call = Call("openai", "gpt-4o-mini")
    tally = Tally("pipeline")
    busy = ProviderError(Failure.of(Kind.OVERLOADED, status=503), call=call)
    bad = ProviderError(Failure.of(Kind.BAD_REQUEST, status=400), call=call)
    tally.on_event(
        AttemptEnded(call=call, call_id=1, duration=0.1, error=busy, failure=busy.failure)
    )
    tally.on_event(RetryScheduled(call=call, call_id=1, delay=0.1, failure=busy.failure))
    tally.on_event(
        AttemptEnded(call=call, call_id=1, duration=0.1, error=busy, failure=busy.failure)
    )
    tally.on_event(
        FallbackHop(call=call, call_id=1, from_target="a/b", to_target="c/d", reason="overloaded")
    )
    tally.on_event(AttemptEnded(call=call, call_id=1, duration=0.1, error=bad, failure=bad.failure))
    tally.on_event(CallEnded(call=call, call_id=1, duration=0.3, error=bad, failure=bad.failure))
    tally.record_call(0.3, bad, [503, 503, 400], 3)
    result = summarize(
        tally, elapsed=1.0, provider_429s=0, provider_requests=3, unfinished=0, capacity_rpm=60
    )
    assert result["handled_by_bucket"] == {
        "server_error": {"retry": 1, "fallback": 1},
        "client_error": {"surfaced": 1},
    }
    assert result["failures_by_bucket"] == {"client_error": 1}
    assert result["retries"] == 1 and result["fallbacks"] == 1


def test_baseline_handling_comes_from_the_statuses_on_the_wire() -> None:
    """Without a pipeline, an error followed by another request was retried by
    the SDK and the last error surfaced."""
    tally = Tally("baseline")
    tally.record_sdk_call([429, 429, 429], 3)
    tally.record_sdk_call([429, 200], 2)
    assert tally.sdk_retries == 3
    assert dict(tally.handled["auth_quota"]) == {"retry": 3, "surfaced": 1}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile([], 50) == 0.0


def test_same_seed_gives_the_same_tasks() -> None:
    """Reproducible in shape: a seed fixes providers, sizes, features and pauses."""

    def shape(seed: int) -> list[tuple[str, int, frozenset[str], float]]:
        w = Workload(DEFAULT_PROVIDERS, seed)
        return [
            (t.provider.name, s.tokens, s.features, s.think)
            for t in (w.task() for _ in range(20))
            for s in t.steps
        ]

    assert shape(3) == shape(3)
    assert shape(3) != shape(4)
    kinds = {f for _, _, feats, _ in shape(3) for f in feats}
    assert {"tools", "json", "stream"} <= kinds


@pytest.mark.parametrize(
    ("field", "value"),
    [("duration", 0), ("concurrency", 0), ("failure_rate", 1.5), ("otlp", "localhost:4318")],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        SimulationConfig(**{field: value})  # type: ignore[arg-type]


def test_cli_rejects_bad_settings_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["simulate", "--duration", "-1"]) == 2
    assert "duration" in capsys.readouterr().err


def test_a_call_every_breaker_refused_is_labelled_circuit_open() -> None:
    """Not 'unknown': the failed-calls table says why nothing was sent."""
    from resilience._cli.simulate_report import CIRCUIT_OPEN, bucket_of_error
    from resilience._core.errors import CircuitOpenError, FallbackExhausted

    refused = FallbackExhausted([("a/m", CircuitOpenError("a")), ("b/m", CircuitOpenError("b"))])
    assert bucket_of_error(refused) == CIRCUIT_OPEN
    busy = ProviderError(Failure.of(Kind.OVERLOADED, status=503))
    mixed = FallbackExhausted([("a/m", busy), ("b/m", CircuitOpenError("b"))])
    assert bucket_of_error(mixed) == "server_error"
    assert bucket_of_error(RuntimeError("a bug")) == "unknown"
