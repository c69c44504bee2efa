"""The pipeline core: composition order, classification at the edge, deadlines, events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from resilience import (
    AttemptEnded,
    AttemptStarted,
    Call,
    CallEnded,
    CallStarted,
    ConfigError,
    DeadlineExceeded,
    Event,
    FakeClock,
    Kind,
    Pipeline,
    ProviderError,
    report,
)
from resilience._stream.resume import PeekedStream

CALL = Call(provider="openai", model="gpt-4o")


class Status(Exception):
    def __init__(self, status_code: int) -> None:
        super().__init__(f"status {status_code}")
        self.status_code = status_code


class Trace:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def __call__(self, call: Call, handler: Any) -> Any:
        self.log.append(f"{self.name}>")
        try:
            return await handler(call)
        finally:
            self.log.append(f"<{self.name}")


async def test_first_middleware_is_outermost() -> None:
    log: list[str] = []

    async def handler(call: Call) -> str:
        log.append("handler")
        return "ok"

    p = Pipeline(Trace("a", log), Trace("b", log))
    assert await p.run(handler, CALL) == "ok"
    assert log == ["a>", "b>", "handler", "<b", "<a"]


async def test_wrap_builds_a_reusable_handler() -> None:
    async def handler(call: Call) -> str:
        return call.model

    wrapped = Pipeline().wrap(handler)
    assert await wrapped(CALL) == "gpt-4o"
    assert await wrapped(CALL.replace(model="gpt-4o-mini")) == "gpt-4o-mini"


async def test_provider_failure_becomes_provider_error_with_cause() -> None:
    original = Status(503)

    async def handler(call: Call) -> None:
        raise original

    with pytest.raises(ProviderError) as info:
        await Pipeline().run(handler, CALL)
    assert info.value.failure.kind is Kind.OVERLOADED
    assert info.value.call == CALL
    assert info.value.__cause__ is original


@pytest.mark.parametrize("bug", [TypeError("bad arg"), KeyError("k"), AttributeError("x")])
async def test_handler_bugs_propagate_unchanged(bug: Exception) -> None:
    async def handler(call: Call) -> None:
        raise bug

    with pytest.raises(type(bug)) as info:
        await Pipeline().run(handler, CALL)
    assert info.value is bug


async def test_cancellation_propagates() -> None:
    started = asyncio.Event()

    async def handler(call: Call) -> None:
        started.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(Pipeline().run(handler, CALL))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_deadline_on_fake_clock_raises_deadline_exceeded(clock: FakeClock) -> None:
    async def handler(call: Call) -> None:
        await clock.sleep(100)

    task = asyncio.create_task(Pipeline(clock=clock).run(handler, CALL.replace(timeout=5.0)))
    await clock.advance(4.9)
    assert not task.done()
    await clock.advance(0.2)
    with pytest.raises(DeadlineExceeded) as info:
        await task
    assert info.value.failure.kind is Kind.TIMEOUT
    assert clock.pending() == 0


async def test_result_before_deadline_leaves_no_timer(clock: FakeClock) -> None:
    async def handler(call: Call) -> str:
        return "ok"

    assert await Pipeline(clock=clock).run(handler, CALL.replace(timeout=1.0)) == "ok"
    assert clock.pending() == 0


async def test_events_in_order_with_attempt_numbers_and_reported_usage() -> None:
    events: list[Event] = []

    async def handler(call: Call) -> str:
        report(usage={"input_tokens": 3, "output_tokens": 4}, response_model="gpt-4o-2024")
        return "ok"

    await Pipeline(hooks=[events.append]).run(handler, CALL)
    assert [type(e) for e in events] == [CallStarted, AttemptStarted, AttemptEnded, CallEnded]
    assert events[1].attempt == 0
    assert len({e.call_id for e in events}) == 1
    end = events[-1]
    assert isinstance(end, CallEnded)
    assert end.usage == {"input_tokens": 3, "output_tokens": 4}
    assert end.response_model == "gpt-4o-2024"


async def test_a_failing_subscriber_does_not_break_the_call() -> None:
    def bad(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    async def handler(call: Call) -> str:
        return "ok"

    assert await Pipeline(hooks=[bad]).run(handler, CALL) == "ok"


async def test_stream_error_before_first_chunk_is_classified() -> None:
    async def gen() -> Any:
        raise Status(529)
        yield "never"

    async def handler(call: Call) -> Any:
        return gen()

    with pytest.raises(ProviderError) as info:
        await Pipeline().run(handler, CALL)
    assert info.value.failure.kind is Kind.OVERLOADED


async def test_stream_first_chunk_is_peeked_and_later_errors_classified() -> None:
    async def gen() -> Any:
        yield "a"
        yield "b"
        raise Status(502)

    async def handler(call: Call) -> Any:
        return gen()

    result = await Pipeline().run(handler, CALL)
    assert isinstance(result, PeekedStream)
    got = []
    with pytest.raises(ProviderError) as info:
        async for chunk in result:
            got.append(chunk)
    assert got == ["a", "b"]
    assert info.value.failure.kind is Kind.GATEWAY


async def test_pipeline_stream_yields_chunks() -> None:
    async def gen() -> Any:
        for c in "xyz":
            yield c

    async def handler(call: Call) -> Any:
        return gen()

    assert [c async for c in Pipeline().stream(handler, CALL)] == ["x", "y", "z"]


def test_bad_middleware_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match=r"middlewares\[1\]"):
        Pipeline(Trace("a", []), 42)  # type: ignore[arg-type]


async def test_run_rejects_a_non_call() -> None:
    async def handler(call: Call) -> None:
        return None

    with pytest.raises(ConfigError, match="call"):
        await Pipeline().run(handler, {"provider": "openai"})  # type: ignore[arg-type]


async def test_an_inactive_subscriber_gets_no_events_until_it_turns_active() -> None:
    class Gated:
        active = False

        def __init__(self) -> None:
            self.seen: list[Event] = []

        def on_event(self, event: Event) -> None:
            self.seen.append(event)

    async def handler(call: Call) -> str:
        return "ok"

    hook = Gated()
    pipeline = Pipeline(hooks=[hook])
    await pipeline.run(handler, CALL)
    assert hook.seen == []
    hook.active = True
    await pipeline.run(handler, CALL)
    assert [type(e) for e in hook.seen] == [CallStarted, AttemptStarted, AttemptEnded, CallEnded]


async def _retry_delays(clock: FakeClock, seed: int, own: Any = None) -> list[float]:
    """The backoff delays of one call failing four times through
    Pipeline(Retry(4), random=Random(seed))."""
    import random

    from resilience import Failure, Kind, ProviderError, Retry, RetryScheduled

    events: list[Any] = []
    pipeline = Pipeline(
        Retry(4, budget=None, random=own),
        clock=clock,
        hooks=[events.append],
        random=random.Random(seed),
    )

    async def failing(call: Call) -> Any:
        raise ProviderError(Failure.of(Kind.SERVER, status=500), call=call)

    task = asyncio.create_task(pipeline.run(failing, Call("a", "m")))
    await clock.run_until_idle()
    with pytest.raises(ProviderError):
        await task
    return [e.delay for e in events if isinstance(e, RetryScheduled)]


async def test_the_pipelines_random_drives_the_jitter_of_middlewares_without_their_own(
    clock: FakeClock,
) -> None:
    """Pipeline(random=Random(seed)) makes Retry's backoff reproducible; a
    Retry given its own random= keeps using that one."""
    import random

    first = await _retry_delays(clock, 7)
    assert len(first) == 3
    assert await _retry_delays(clock, 7) == first
    assert await _retry_delays(clock, 8) != first
    own = await _retry_delays(clock, 7, own=random.Random(99))
    assert own == await _retry_delays(clock, 8, own=random.Random(99)) != first
