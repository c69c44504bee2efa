"""resilience.telemetry: spans, span events and metrics from pipeline events,
recorded by the real OpenTelemetry SDK into memory."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from resilience import (
    BreakerStateChange,
    Call,
    CallEnded,
    CallStarted,
    ConfigError,
    Failure,
    FakeClock,
    FallbackExhausted,
    Pipeline,
    ProviderError,
)
from resilience._core.context import emit
from resilience.telemetry import Telemetry, configure
from tests.otel._support import (
    Guard,
    Hopping,
    HTTPFailure,
    Otel,
    Retrying,
    Script,
    make_otel,
)

CALL = Call(provider="openai", model="gpt-4o", max_output_tokens=256)


@pytest.fixture
def otel() -> Otel:
    return make_otel()


def attempts_of(otel: Otel) -> list[Any]:
    return sorted(otel.named("attempt "), key=lambda s: s.start_time)


async def test_success_after_retries_is_not_an_error_and_each_attempt_has_its_bucket(
    otel: Otel,
) -> None:
    script = Script(
        {"openai/gpt-4o": [HTTPFailure(429, headers={"retry-after": "2"}), HTTPFailure(503), "ok"]},
        usage={"input_tokens": 12, "output_tokens": 34},
    )
    pipeline = Pipeline(Retrying(tries=3), hooks=[otel.telemetry])
    assert await pipeline.run(script, CALL) == "ok"

    logical = otel.one("chat gpt-4o")
    assert logical.kind is SpanKind.CLIENT
    assert logical.status.status_code is not StatusCode.ERROR
    attrs = dict(logical.attributes or {})
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o"
    assert attrs["gen_ai.request.max_tokens"] == 256
    assert attrs["gen_ai.response.model"] == "gpt-4o-2026-04-01"
    assert attrs["gen_ai.usage.input_tokens"] == 12
    assert attrs["gen_ai.usage.output_tokens"] == 34
    assert attrs["resilience.attempts"] == 3
    assert attrs["resilience.served_by"] == "openai/gpt-4o"
    assert "error.type" not in attrs

    tries = attempts_of(otel)
    assert [s.name for s in tries] == ["attempt openai/gpt-4o"] * 3
    for span in tries:
        assert span.parent is not None and span.parent.span_id == logical.context.span_id
        assert span.context.trace_id == logical.context.trace_id
    first, second, third = (dict(s.attributes or {}) for s in tries)
    assert "http.request.resend_count" not in first
    assert second["http.request.resend_count"] == 1
    assert third["http.request.resend_count"] == 2
    assert first["error.type"] == "rate_limit"
    assert first["resilience.failure.bucket"] == "auth_quota"
    assert first["resilience.failure.kind"] == "rate_limit"
    assert first["http.response.status_code"] == 429
    assert first["resilience.retry_after"] == 2.0
    assert second["resilience.failure.bucket"] == "server_error"
    assert second["http.response.status_code"] == 503
    assert tries[0].status.status_code is StatusCode.ERROR
    assert tries[2].status.status_code is StatusCode.UNSET
    assert "error.type" not in third
    assert third["gen_ai.usage.output_tokens"] == 34

    retries = [e for e in logical.events if e.name == "resilience.retry"]
    assert [dict(e.attributes or {})["resilience.failure.kind"] for e in retries] == [
        "rate_limit",
        "overloaded",
    ]
    assert dict(retries[0].attributes or {})["resilience.retry_after"] == 2.0
    assert otel.telemetry.open_calls == 0


async def test_final_failure_sets_error_status_and_kind_on_the_logical_span(otel: Otel) -> None:
    script = Script({"openai/gpt-4o": [HTTPFailure(401)]})
    with pytest.raises(ProviderError):
        await Pipeline(Retrying(), hooks=[otel.telemetry]).run(script, CALL)
    logical = otel.one("chat gpt-4o")
    assert logical.status.status_code is StatusCode.ERROR
    assert logical.status.description == "auth"
    attrs = dict(logical.attributes or {})
    assert attrs["error.type"] == "auth"
    assert attrs["resilience.failure.bucket"] == "auth_quota"
    assert attrs["http.response.status_code"] == 401
    assert len(attempts_of(otel)) == 1  # auth is not retried


async def test_a_handler_bug_is_recorded_by_class_name_never_by_message(otel: Otel) -> None:
    async def handler(call: Call) -> None:
        raise KeyError("secret-looking text that must stay out")

    with pytest.raises(KeyError):
        await Pipeline(Retrying(), hooks=[otel.telemetry]).run(handler, CALL)
    logical = otel.one("chat gpt-4o")
    assert dict(logical.attributes or {})["error.type"] == "KeyError"
    assert "secret-looking" not in repr([s.to_json() for s in otel.spans()])


async def test_fallback_attempts_carry_the_target_and_events_land_on_the_right_span(
    otel: Otel, clock: FakeClock
) -> None:
    script = Script(
        {
            "openai/gpt-4o": [HTTPFailure(503)],
            "anthropic/claude-sonnet-4": ["served"],
        }
    )
    pipeline = Pipeline(
        Hopping("anthropic/claude-sonnet-4"),
        Guard(waits=[0.0, 1.5]),
        hooks=[otel.telemetry],
        clock=clock,
    )
    task = asyncio.create_task(pipeline.run(script, CALL))
    await clock.run_until_idle()
    assert await task == "served"

    logical = otel.one("chat gpt-4o")
    first, second = attempts_of(otel)
    assert first.name == "attempt openai/gpt-4o"
    assert second.name == "attempt anthropic/claude-sonnet-4"
    second_attrs = dict(second.attributes or {})
    assert second_attrs["gen_ai.provider.name"] == "anthropic"
    assert second_attrs["gen_ai.request.model"] == "claude-sonnet-4"
    assert second_attrs["http.request.resend_count"] == 1
    assert dict(logical.attributes or {})["gen_ai.request.model"] == "gpt-4o"
    assert dict(logical.attributes or {})["resilience.served_by"] == "anthropic/claude-sonnet-4"

    # The hop happened between attempts: on the logical span.
    (hop,) = [e for e in logical.events if e.name == "resilience.fallback"]
    assert dict(hop.attributes or {}) == {
        "resilience.fallback.from": "openai/gpt-4o",
        "resilience.fallback.to": "anthropic/claude-sonnet-4",
        "resilience.fallback.reason": "overloaded",
        "resilience.failure.kind": "overloaded",
        "resilience.failure.bucket": "server_error",
    }
    # The breaker opened and the limiter waited inside attempts: on those spans.
    (opened,) = [e for e in first.events if e.name == "resilience.breaker.state_change"]
    assert dict(opened.attributes or {})["resilience.breaker.new_state"] == "open"
    (wait,) = [e for e in second.events if e.name == "resilience.ratelimit.wait"]
    assert dict(wait.attributes or {}) == {
        "resilience.ratelimit.wait": 1.5,
        "resilience.ratelimit.dimension": "tokens",
        "resilience.ratelimit.key": "anthropic",
    }
    assert not [e for e in logical.events if e.name == "resilience.ratelimit.wait"]


async def test_degrade_event_then_exhausted_fallback_reports_the_last_kind(otel: Otel) -> None:
    """A 400 naming a feature makes the stand-in fallback retry without it
    (a degrade event); the next 400 is a plain bad request: no hop, failure."""
    failing = HTTPFailure(400)

    def classifier(error: Any, provider: str | None = None) -> Failure:
        if error is failing:
            return Failure.of("unsupported_feature", status=400, feature="json")
        return Failure.of("bad_request", status=400)

    script = Script(
        {"openai/gpt-4o": [failing, HTTPFailure(400)], "anthropic/claude-sonnet-4": ["unused"]}
    )
    pipeline = Pipeline(
        Hopping("anthropic/claude-sonnet-4"), hooks=[otel.telemetry], classifier=classifier
    )
    with pytest.raises(FallbackExhausted):
        await pipeline.run(script, CALL.replace(features=frozenset({"json"})))
    logical = otel.one("chat gpt-4o")
    assert [e.name for e in logical.events] == ["resilience.degrade"]
    assert dict(logical.events[0].attributes or {}) == {
        "resilience.degrade.target": "openai/gpt-4o",
        "resilience.degrade.feature": "json",
    }
    assert dict(logical.attributes or {})["error.type"] == "bad_request"
    assert dict(logical.attributes or {})["resilience.failure.bucket"] == "client_error"
    kinds = [dict(s.attributes or {})["error.type"] for s in attempts_of(otel)]
    assert kinds == ["unsupported_feature", "bad_request"]
    assert script.seen == ["openai/gpt-4o", "openai/gpt-4o"]


async def test_breaker_rejection_is_an_event_on_the_attempt_it_refused(otel: Otel) -> None:
    script = Script({"openai/gpt-4o": ["unused"], "anthropic/claude-sonnet-4": ["ok"]})
    pipeline = Pipeline(
        Hopping("anthropic/claude-sonnet-4"),
        Guard(open=["openai/gpt-4o"]),
        hooks=[otel.telemetry],
    )
    assert await pipeline.run(script, CALL) == "ok"
    first, _second = attempts_of(otel)
    (reject,) = [e for e in first.events if e.name == "resilience.breaker.reject"]
    assert dict(reject.attributes or {}) == {
        "resilience.breaker.key": "openai/gpt-4o",
        "resilience.retry_after": 30.0,
    }
    assert dict(first.attributes or {})["error.type"] == "CircuitOpenError"
    (hop,) = [e for e in otel.one("chat gpt-4o").events if e.name == "resilience.fallback"]
    assert dict(hop.attributes or {})["resilience.fallback.reason"] == "circuit_open"
    assert script.seen == ["anthropic/claude-sonnet-4"]


async def test_interleaved_concurrent_calls_keep_their_own_spans(
    otel: Otel, clock: FakeClock
) -> None:
    """Forty calls whose events interleave: every attempt span hangs under
    its own call's span, and nothing stays open."""

    failed: set[str] = set()

    async def handler(call: Call) -> str:
        n = int(call.model.split("-")[1])
        await clock.sleep(1 + (n * 7) % 5)
        if n % 3 == 0 and call.model not in failed:
            failed.add(call.model)
            raise HTTPFailure(503)
        return call.model

    pipeline = Pipeline(Retrying(tries=2), hooks=[otel.telemetry], clock=clock)
    calls = [Call(provider="p", model=f"m-{n}") for n in range(40)]
    tasks = [asyncio.create_task(pipeline.run(handler, c)) for c in calls]
    await clock.run_until_idle()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results == [c.model for c in calls]
    assert otel.telemetry.open_calls == 0

    by_id = {s.context.span_id: s for s in otel.named("chat ")}
    assert len(by_id) == 40
    for attempt in otel.named("attempt "):
        assert attempt.parent is not None
        parent = by_id[attempt.parent.span_id]
        assert parent.name == "chat " + attempt.name.split("/", 1)[1]
    assert len(otel.named("attempt ")) == 40 + len(range(0, 40, 3))


async def test_cancelled_call_ends_every_span_it_opened(otel: Otel, clock: FakeClock) -> None:
    async def handler(call: Call) -> None:
        await clock.sleep(100)

    pipeline = Pipeline(Retrying(), hooks=[otel.telemetry], clock=clock)
    task = asyncio.create_task(pipeline.run(handler, CALL))
    await clock.advance(1)
    assert otel.telemetry.open_calls == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert otel.telemetry.open_calls == 0
    logical = otel.one("chat gpt-4o")
    assert dict(logical.attributes or {})["error.type"] == "CancelledError"
    (attempt,) = attempts_of(otel)
    assert attempt.end_time is not None


async def test_call_ended_closes_an_attempt_whose_end_never_came(otel: Otel) -> None:
    """A subscriber that misses AttemptEnded still leaks no span."""
    tel = otel.telemetry
    tel.on_event(CallStarted(call=CALL, call_id=-7))
    from resilience import AttemptStarted

    tel.on_event(AttemptStarted(call=CALL, call_id=-7, attempt=0))
    tel.on_event(CallEnded(call=CALL, call_id=-7, duration=1.0))
    assert tel.open_calls == 0
    assert len(otel.spans()) == 2
    assert trace.get_current_span() is trace.INVALID_SPAN


async def test_handler_spans_nest_under_the_attempt_and_context_is_restored(
    otel: Otel,
) -> None:
    tracer = otel.tracer_provider.get_tracer("app")

    async def handler(call: Call) -> str:
        with tracer.start_as_current_span("POST /v1/chat/completions"):
            return "ok"

    with tracer.start_as_current_span("request handler") as outer:
        await Pipeline(Retrying(), hooks=[otel.telemetry]).run(handler, CALL)
        assert trace.get_current_span() is outer
    http = otel.one("POST /v1/chat/completions")
    (attempt,) = attempts_of(otel)
    logical = otel.one("chat gpt-4o")
    assert http.parent is not None and http.parent.span_id == attempt.context.span_id
    assert logical.parent is not None
    assert logical.parent.span_id == otel.one("request handler").context.span_id


async def test_breaker_change_outside_any_call_goes_to_the_current_span(otel: Otel) -> None:
    tracer = otel.tracer_provider.get_tracer("app")
    hooks = (otel.telemetry.on_event,)
    # No pipeline running: as a breaker's timer would emit it.
    emit(BreakerStateChange, None, hooks, key="openai", old="open", new="half_open")
    with tracer.start_as_current_span("background"):
        emit(BreakerStateChange, None, hooks, key="openai", old="half_open", new="closed")
    (bg,) = otel.spans()
    assert [dict(e.attributes or {})["resilience.breaker.new_state"] for e in bg.events] == [
        "closed"
    ]
    changes = otel.points("resilience.breaker.state_changes")
    assert {(a["resilience.breaker.state"], p.value) for a, p in changes} == {
        ("half_open", 1),
        ("closed", 1),
    }


async def test_metrics_count_failures_by_bucket_kind_provider_and_time_attempts(
    otel: Otel, clock: FakeClock
) -> None:
    script = Script(
        {
            "openai/gpt-4o": [HTTPFailure(429), HTTPFailure(429), HTTPFailure(500)],
            "anthropic/claude-sonnet-4": ["ok"],
        },
        usage={"input_tokens": 10, "output_tokens": 5},
    )
    pipeline = Pipeline(
        Hopping("anthropic/claude-sonnet-4"),
        Retrying(tries=3),
        Guard(waits=[0.25, 0.0, 0.0, 0.5]),
        hooks=[otel.telemetry],
        clock=clock,
    )
    task = asyncio.create_task(pipeline.run(script, CALL))
    await clock.run_until_idle()
    assert await task == "ok"

    failures = {
        (a["resilience.failure.bucket"], a["resilience.failure.kind"], a["gen_ai.provider.name"]): (
            p.value
        )
        for a, p in otel.points("resilience.failures")
    }
    assert failures == {
        ("auth_quota", "rate_limit", "openai"): 2,
        ("server_error", "server", "openai"): 1,
    }
    durations = otel.points("resilience.attempt.duration")
    assert sum(p.count for _, p in durations) == 4
    ok = [p for a, p in durations if a["gen_ai.provider.name"] == "anthropic"]
    assert ok[0].sum == pytest.approx(0.5)  # its limiter wait, on the fake clock
    waits = otel.points("resilience.ratelimit.wait")
    assert sum(p.count for _, p in waits) == 2
    assert sum(p.sum for _, p in waits) == pytest.approx(0.75)
    (op,) = otel.points("gen_ai.client.operation.duration")
    assert op[0]["gen_ai.request.model"] == "gpt-4o" and op[1].count == 1
    tokens = {a["gen_ai.token.type"]: p.sum for a, p in otel.points("gen_ai.client.token.usage")}
    assert tokens == {"input": 10, "output": 5}


async def test_prompt_and_metadata_stay_out_unless_capture_is_asked_for() -> None:
    prompt = [{"role": "user", "content": "the launch code is 0000"}]
    call = CALL.replace(payload=prompt, metadata={"user_email": "someone@example.com"})

    async def handler(call: Call) -> str:
        return "fine"

    off = make_otel()
    await Pipeline(Retrying(), hooks=[off.telemetry]).run(handler, call)
    dumped = json.dumps([json.loads(s.to_json()) for s in off.spans()])
    assert "launch code" not in dumped and "someone@example.com" not in dumped

    on = make_otel(capture_content=True)
    await Pipeline(Retrying(), hooks=[on.telemetry]).run(handler, call)
    attrs = dict(on.one("chat gpt-4o").attributes or {})
    assert json.loads(attrs["gen_ai.input.messages"]) == prompt
    assert "someone@example.com" not in json.dumps([json.loads(s.to_json()) for s in on.spans()])


async def test_no_sdk_provider_records_nothing_and_opens_nothing() -> None:
    tel = Telemetry(tracer_provider=trace.NoOpTracerProvider())
    script = Script({"openai/gpt-4o": [HTTPFailure(503), "ok"]})
    assert await Pipeline(Retrying(), hooks=[tel]).run(script, CALL) == "ok"
    assert tel.open_calls == 0
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_bad_settings_are_config_errors_naming_the_field() -> None:
    with pytest.raises(ConfigError, match="capture_content"):
        Telemetry(capture_content="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="endpoint"):
        configure(endpoint="localhost:4318", set_global=False)
    with pytest.raises(ConfigError, match="service_name"):
        configure(service_name="", set_global=False)


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_to_the_global_provider_even_when_configured_later() -> None:
    """Runs in a fresh interpreter: the global provider can be set only once."""
    proc = _run_python(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        from resilience import Call, Pipeline
        from resilience.telemetry import Telemetry

        from opentelemetry import metrics
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader

        async def handler(call):
            return "ok"

        call = Call(provider="openai", model="gpt-4o")
        tel = Telemetry()  # built before any SDK exists
        asyncio.run(Pipeline(hooks=[tel]).run(handler, call))  # recorded nowhere

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        reader = InMemoryMetricReader()
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

        asyncio.run(Pipeline(hooks=[tel]).run(handler, call))
        print([s.name for s in exporter.get_finished_spans()])
        data = reader.get_metrics_data()
        names = {m.name for rm in data.resource_metrics for sm in rm.scope_metrics
                 for m in sm.metrics}
        print(sorted(n for n in names if "duration" in n))
        """
    )
    assert proc.returncode == 0, proc.stderr
    spans, durations = proc.stdout.splitlines()
    assert spans == "['attempt openai/gpt-4o', 'chat gpt-4o']"
    assert durations == "['gen_ai.client.operation.duration', 'resilience.attempt.duration']"


def test_core_works_with_the_api_alone_and_configure_names_the_extra() -> None:
    """With the SDK not importable, Telemetry still runs (no-op) and
    configure() says which extra to install."""
    proc = _run_python(
        """
        import asyncio, sys
        for name in ("opentelemetry.sdk", "opentelemetry.exporter"):
            sys.modules[name] = None  # import fails as if not installed
        from resilience import Call, Pipeline
        from resilience.telemetry import Telemetry, configure

        async def handler(call):
            return "ok"

        tel = Telemetry()
        print(asyncio.run(Pipeline(hooks=[tel]).run(handler, Call(provider="o", model="m"))))
        try:
            configure()
        except ImportError as exc:
            print(exc)
        """
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "ok"
    assert "llm-resilience[otlp]" in out[1]


async def test_end_to_end_with_the_real_retry_fallback_and_breaker(
    otel: Otel, clock: FakeClock
) -> None:
    """Retry + Fallback + CircuitBreaker around a failing provider: the
    attempts, their resend counts and buckets, and every event where it
    belongs; then a second call skips the open circuit."""
    from resilience._breaker import CircuitBreaker
    from resilience._fallback import Fallback
    from resilience._retry import Retry

    unsupported = HTTPFailure(400)

    def classifier(error: Any, provider: str | None = None) -> Failure:
        if error is unsupported:
            return Failure.of("unsupported_feature", status=400, feature="tools")
        from resilience import classify

        return classify(error, provider=provider)

    script = Script(
        {
            "openai/gpt-4o": [
                unsupported,
                HTTPFailure(429, headers={"retry-after": "2"}),
                HTTPFailure(503),
                HTTPFailure(503),
            ],
            "anthropic/claude-sonnet-4": ["served"],
        }
    )
    pipeline = Pipeline(
        Fallback(["anthropic/claude-sonnet-4"]),
        # failover_after=None: this scenario is about the retries' spans, so they wait.
        Retry(3, base=1.0, cap=4.0, jitter="none", budget=None, failover_after=None),
        CircuitBreaker(failure_threshold=2, min_calls=2, reset_timeout=60.0),
        hooks=[otel.telemetry],
        clock=clock,
        classifier=classifier,
    )
    first = CALL.replace(features=frozenset({"tools"}))
    task = asyncio.create_task(pipeline.run(script, first))
    await clock.run_until_idle()
    assert await task == "served"

    logical = otel.one("chat gpt-4o")
    tries = attempts_of(otel)
    assert [s.name for s in tries] == ["attempt openai/gpt-4o"] * 4 + [
        "attempt anthropic/claude-sonnet-4"
    ]
    info = [dict(s.attributes or {}) for s in tries]
    assert [a.get("http.request.resend_count") for a in info] == [None, 1, 2, 3, 4]
    assert [a.get("error.type") for a in info] == [
        "unsupported_feature",
        "rate_limit",
        "overloaded",
        "overloaded",
        None,
    ]
    assert [a.get("resilience.failure.bucket") for a in info[:4]] == [
        "client_error",
        "auth_quota",
        "server_error",
        "server_error",
    ]
    assert info[1]["resilience.retry_after"] == 2.0
    assert all(s.parent is not None and s.parent.span_id == logical.context.span_id for s in tries)

    events = [(e.name, dict(e.attributes or {})) for e in logical.events]
    assert [name for name, _ in events] == [
        "resilience.degrade",
        "resilience.retry",
        "resilience.retry",
        "resilience.fallback",
    ]
    assert events[0][1]["resilience.degrade.feature"] == "tools"
    assert events[1][1]["resilience.retry.delay"] == 2.0  # Retry-After beat the backoff
    assert events[1][1]["resilience.failure.kind"] == "rate_limit"
    assert events[3][1]["resilience.fallback.to"] == "anthropic/claude-sonnet-4"
    opened = [
        dict(e.attributes or {})
        for e in tries[3].events
        if e.name == "resilience.breaker.state_change"
    ]
    assert opened and opened[-1]["resilience.breaker.new_state"] == "open"
    assert dict(logical.attributes or {})["resilience.served_by"] == "anthropic/claude-sonnet-4"

    # The circuit is open now: the next call is refused without a request.
    otel.exporter.clear()
    seen = len(script.seen)
    task = asyncio.create_task(pipeline.run(script, CALL))
    await clock.run_until_idle()
    assert await task == "served"
    assert script.seen[seen:] == ["anthropic/claude-sonnet-4"]
    refused, _served = attempts_of(otel)
    assert [e.name for e in refused.events] == ["resilience.breaker.reject"]
    assert dict(refused.attributes or {})["error.type"] == "CircuitOpenError"
    (hop,) = otel.one("chat gpt-4o").events
    assert dict(hop.attributes or {})["resilience.fallback.reason"] == "circuit_open"
    failures = {
        a["resilience.failure.kind"]: p.value for a, p in otel.points("resilience.failures")
    }
    assert failures == {"unsupported_feature": 1, "rate_limit": 1, "overloaded": 2}
    assert otel.telemetry.open_calls == 0


async def test_real_rate_limiter_waits_are_events_on_the_attempt_and_a_histogram(
    otel: Otel, clock: FakeClock
) -> None:
    """Two calls at once under 60 requests a minute with no burst: the second
    waits about a second, and says so on its attempt span."""
    from resilience._limiter import Limit, RateLimiter

    async def handler(call: Call) -> str:
        return "ok"

    pipeline = Pipeline(
        RateLimiter(Limit(rpm=60, burst=1), adaptive=False), hooks=[otel.telemetry], clock=clock
    )
    tasks = [asyncio.create_task(pipeline.run(handler, CALL)) for _ in range(2)]
    await clock.run_until_idle()
    assert [await t for t in tasks] == ["ok", "ok"]

    waits = [
        dict(e.attributes or {})
        for s in attempts_of(otel)
        for e in s.events
        if e.name == "resilience.ratelimit.wait"
    ]
    assert len(waits) == 1
    assert waits[0]["resilience.ratelimit.dimension"] == "requests"
    assert waits[0]["resilience.ratelimit.wait"] == pytest.approx(1.0, abs=0.05)
    assert not [e for s in otel.named("chat ") for e in s.events]
    (point,) = otel.points("resilience.ratelimit.wait")
    assert point[1].count == 1 and point[1].sum == pytest.approx(1.0, abs=0.05)


async def test_an_attempt_cut_by_attempt_timeout_is_recorded_as_a_timeout(
    otel: Otel, clock: FakeClock
) -> None:
    from resilience._retry import Retry

    hung = True

    async def handler(call: Call) -> str:
        nonlocal hung
        if hung:
            hung = False
            await clock.sleep(3600)
        return "ok"

    retry = Retry(2, base=0.1, jitter="none", budget=None, attempt_timeout=5.0)
    pipeline = Pipeline(retry, hooks=[otel.telemetry], clock=clock)
    task = asyncio.create_task(pipeline.run(handler, CALL))
    await clock.run_until_idle()
    assert await task == "ok"
    first, second = attempts_of(otel)
    attrs = dict(first.attributes or {})
    assert attrs["error.type"] == "timeout"
    assert attrs["resilience.failure.bucket"] == "network"
    assert "error.type" not in dict(second.attributes or {})
    failures = {
        a["resilience.failure.kind"]: p.value for a, p in otel.points("resilience.failures")
    }
    assert failures == {"timeout": 1}


def test_telemetry_is_inactive_without_an_sdk_and_active_with_one() -> None:
    """With the API's no-op providers the pipeline skips building events for it."""
    from opentelemetry.metrics import NoOpMeterProvider
    from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
    from opentelemetry.trace import NoOpTracerProvider

    from resilience.telemetry import Telemetry

    idle = Telemetry(tracer_provider=NoOpTracerProvider(), meter_provider=NoOpMeterProvider())
    assert idle.active is False
    live = Telemetry(tracer_provider=SdkTracerProvider(), meter_provider=NoOpMeterProvider())
    assert live.active is True


def test_pipelines_record_by_default_and_telemetry_false_turns_it_off() -> None:
    """A Pipeline has a Telemetry of its own unless told otherwise; one given
    in hooks= or subscribed later replaces it (no span recorded twice)."""
    from resilience import ConfigError

    default = Pipeline()
    assert isinstance(default.telemetry, Telemetry)
    assert Pipeline(telemetry=False).telemetry is None
    mine = Telemetry()
    assert Pipeline(hooks=[mine]).telemetry is mine
    assert len(Pipeline(hooks=[mine]).hooks) == 1
    later = Pipeline()
    later.subscribe(mine)
    assert later.telemetry is mine and len(later.hooks) == 1
    with pytest.raises(ConfigError) as info:
        Pipeline(telemetry="yes")  # type: ignore[arg-type]
    assert info.value.field == "telemetry"


def test_without_an_sdk_the_default_telemetry_builds_no_event() -> None:
    """The no-op API: the pipeline asks its subscribers whether they record,
    and with nothing listening it builds no event at all."""
    assert Pipeline()._live_hooks() == ()


def test_pipelines_adapters_and_guards_emit_spans_once_an_sdk_is_set() -> None:
    """In a fresh interpreter (the global provider can be set once): a plain
    Pipeline, the openai adapter's default pipeline and a Guard (what the
    LiteLLM and LangChain callbacks run on) record spans with no hooks= at
    all once the application sets an SDK; telemetry=False records none."""
    proc = _run_python(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import openai
        from resilience import Call, Guard, Pipeline
        from resilience.adapters.openai import resilient
        from resilience.testing import FakeProvider

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        async def handler(call):
            return "ok"

        async def main():
            await Pipeline().run(handler, Call("plain", "m"))
            await Pipeline(telemetry=False).run(handler, Call("off", "m"))
            ticket = await Guard(Pipeline()).enter(Call("guarded", "m"))
            ticket.succeed()
            await ticket.wait_closed()
            async with FakeProvider() as fp:
                client = resilient(openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk"))
                await client.chat.completions.create(
                    model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
                )

        asyncio.run(main())
        spans = exporter.get_finished_spans()
        print(sorted({s.name for s in spans if s.name.startswith("chat")}))
        print(sorted({s.attributes.get("gen_ai.provider.name") for s in spans}))
        """
    )
    assert proc.returncode == 0, proc.stderr
    names, providers = proc.stdout.splitlines()
    assert names == "['chat gpt-4o-mini', 'chat m']"
    assert providers == "['guarded', 'openai', 'plain']"
