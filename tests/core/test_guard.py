"""Guard: a pipeline run around a call the host sends itself."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from resilience import (
    Call,
    CallEnded,
    CircuitOpenError,
    ConfigError,
    Failure,
    FakeClock,
    Kind,
    Pipeline,
    current_attempt,
)
from resilience._breaker import CircuitBreaker
from resilience._core.guard import Guard
from resilience._retry import Retry

CALL = Call(provider="openai", model="gpt-4o")


class Seen:
    """A middleware that records what the attempt reported once it ended."""

    def __init__(self) -> None:
        self.headers: list[Any] = []
        self.usage: list[Any] = []
        self.errors: list[BaseException] = []

    async def __call__(self, call: Call, handler: Any) -> Any:
        try:
            return await handler(call)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            state = current_attempt()
            self.headers.append(state.headers if state else None)
            self.usage.append(state.usage if state else None)


async def test_success_reports_usage_and_headers_inside_the_attempt(clock: FakeClock) -> None:
    seen = Seen()
    events: list[Any] = []
    guard = Guard(Pipeline(seen, hooks=[events.append], clock=clock))
    ticket = await guard.enter(CALL)
    assert guard.open_tickets == 1
    ticket.succeed(usage={"input_tokens": 3, "output_tokens": 5}, headers={"x-a": "1"})
    await ticket.wait_closed()
    assert guard.open_tickets == 0
    assert seen.usage == [{"input_tokens": 3, "output_tokens": 5}]
    assert seen.headers == [{"x-a": "1"}]
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert len(ended) == 1 and ended[0].error is None
    assert ended[0].usage == {"input_tokens": 3, "output_tokens": 5}


async def test_failures_trip_the_breaker_and_then_enter_is_refused(clock: FakeClock) -> None:
    guard = Guard(Pipeline(CircuitBreaker(failure_threshold=2), clock=clock))
    for _ in range(2):
        ticket = await guard.enter(CALL)
        ticket.fail(Failure.of(Kind.OVERLOADED, status=503))
        await ticket.wait_closed()
    with pytest.raises(CircuitOpenError):
        await guard.enter(CALL)
    assert guard.open_tickets == 0


async def test_failure_reaches_subscribers_with_its_bucket(clock: FakeClock) -> None:
    events: list[Any] = []
    guard = Guard(Pipeline(hooks=[events.append], clock=clock))
    ticket = await guard.enter(CALL)
    ticket.fail(Failure.of(Kind.RATE_LIMIT, status=429))
    await ticket.wait_closed()
    ended = [e for e in events if isinstance(e, CallEnded)]
    assert ended[0].failure is not None and ended[0].failure.bucket == "auth_quota"


async def test_a_ticket_nobody_ends_is_released_after_max_hold(clock: FakeClock) -> None:
    seen = Seen()
    guard = Guard(Pipeline(seen, clock=clock), max_hold=30)
    ticket = await guard.enter(CALL)
    await clock.advance(29)
    assert guard.open_tickets == 1
    await clock.advance(2)
    await ticket.wait_closed()
    assert guard.open_tickets == 0
    assert ticket.done
    assert isinstance(seen.errors[0], asyncio.CancelledError)


async def test_cancelling_the_wait_for_admission_frees_the_run(clock: FakeClock) -> None:
    gate: asyncio.Event = asyncio.Event()

    class Slow:
        async def __call__(self, call: Call, handler: Any) -> Any:
            await gate.wait()
            return await handler(call)

    guard = Guard(Pipeline(Slow(), clock=clock))
    waiter = asyncio.create_task(guard.enter(CALL))
    await clock.settle()
    assert guard.open_tickets == 1
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    await clock.settle()
    assert guard.open_tickets == 0


async def test_cancel_and_aclose_release_everything(clock: FakeClock) -> None:
    guard = Guard(Pipeline(clock=clock))
    one = await guard.enter(CALL)
    await guard.enter(CALL)
    one.cancel()
    one.succeed()  # a late outcome is ignored
    await guard.aclose()
    assert guard.open_tickets == 0


def test_a_pipeline_that_repeats_calls_is_refused() -> None:
    with pytest.raises(ConfigError, match="pipeline"):
        Guard(Pipeline(Retry(2)))
    with pytest.raises(ConfigError, match="max_hold"):
        Guard(Pipeline(), max_hold=0)
