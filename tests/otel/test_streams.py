"""Telemetry of streamed calls: spans that last as long as the stream, the
chunk count at a break, the resume as a span event, malformed events counted."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from opentelemetry import trace

from resilience import Call, Pipeline, StreamInterrupted
from tests.otel._support import Otel, make_otel
from tests.stream._support import ANSWER, CALL, TOY, Toy, read


@pytest.fixture
def otel() -> Otel:
    return make_otel()


def attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_streamed_calls_spans_end_with_its_stream_not_its_first_chunk(otel: Otel) -> None:
    toy = Toy({"toy/small": [None]})
    stream = await Pipeline(hooks=[otel.telemetry]).run(toy, CALL)
    assert otel.spans() == []  # handed over, still open
    assert not trace.get_current_span().get_span_context().is_valid  # nothing left attached
    await read(stream)
    attempt, call = otel.one("attempt toy/small"), otel.one("chat small")
    assert attrs(attempt)["resilience.stream.chunks"] == len(ANSWER) + 1
    assert attrs(call)["resilience.stream.chunks"] == len(ANSWER) + 1
    assert call.status.status_code == trace.StatusCode.UNSET
    assert attempt.parent is not None and attempt.parent.span_id == call.context.span_id
    assert telemetry_is_idle(otel)


async def test_a_break_records_its_chunks_and_the_resume_on_the_attempt_span(otel: Otel) -> None:
    toy = Toy({"toy/small": [7, None]})
    pipeline = Pipeline(hooks=[otel.telemetry], resume="continue", continuations=TOY)
    assert await read(await pipeline.run(toy, CALL)) == ANSWER
    broken, resumed = otel.named("attempt toy/small")
    assert attrs(broken)["resilience.stream.chunks"] == 8
    assert attrs(broken)["error.type"] == "overloaded"
    assert attrs(broken)["resilience.failure.bucket"] == "server_error"
    (event,) = [e for e in broken.events if e.name == "resilience.stream.resume"]
    assert dict(event.attributes or {}) == {
        "resilience.stream.resume.from": "toy/small",
        "resilience.stream.resume.to": "toy/small",
        "resilience.stream.resume.mechanism": "prefill",
        "resilience.stream.chunks": 8,
        "resilience.failure.kind": "overloaded",
        "resilience.failure.bucket": "server_error",
    }
    assert attrs(resumed)["http.request.resend_count"] == 1
    assert resumed.status.status_code == trace.StatusCode.UNSET
    call = otel.one("chat small")
    assert attrs(call)["resilience.stream.resumes"] == 1
    assert attrs(call)["resilience.attempts"] == 2
    assert call.status.status_code == trace.StatusCode.UNSET
    failures = otel.points("resilience.failures")
    assert [(a["resilience.failure.kind"], p.value) for a, p in failures] == [("overloaded", 1)]


async def test_an_interrupted_stream_ends_its_call_span_in_error_without_any_text(
    otel: Otel,
) -> None:
    toy = Toy({"toy/small": [9]})
    stream = await Pipeline(hooks=[otel.telemetry], continuations=TOY).run(toy, CALL)
    with pytest.raises(StreamInterrupted):
        await read(stream)
    call = otel.one("chat small")
    assert call.status.status_code == trace.StatusCode.ERROR
    assert attrs(call)["error.type"] == "overloaded"
    for span in otel.spans():
        for value in [*attrs(span).values()] + [
            v for e in span.events for v in dict(e.attributes or {}).values()
        ]:
            assert not (isinstance(value, str) and ANSWER[:5] in value)
    assert telemetry_is_idle(otel)


async def test_a_malformed_event_is_counted_and_marked_on_its_attempt(otel: Otel) -> None:
    async def handler(call: Call) -> Any:
        async def gen() -> AsyncIterator[str]:
            yield "a"
            json.loads("{oops")
            yield "b"

        return gen()

    with pytest.raises(StreamInterrupted):
        await read(await Pipeline(hooks=[otel.telemetry]).run(handler, CALL))
    attempt = otel.one("attempt toy/small")
    assert [e.name for e in attempt.events] == ["resilience.stream.malformed"]
    assert attrs(attempt)["resilience.failure.code"] == "malformed_event"
    counted = otel.points("resilience.stream.malformed")
    assert [(a, p.value) for a, p in counted] == [({"gen_ai.provider.name": "toy"}, 1)]


def telemetry_is_idle(otel: Otel) -> bool:
    return otel.telemetry.open_calls == 0
