"""Retry: which failures, how long it waits, the deadline, the budget, attempt timeouts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest

from resilience import (
    Call,
    CircuitOpenError,
    ConfigError,
    Event,
    Failure,
    FakeClock,
    Kind,
    Pipeline,
    ProviderError,
    RetryScheduled,
)
from resilience._breaker import CircuitBreaker
from resilience._retry import Retry, RetryBudget

CALL = Call(provider="openai", model="gpt-4o")


def fail(kind: str, **kw: Any) -> ProviderError:
    return ProviderError(Failure.of(kind, **kw), call=CALL)


async def drive(clock: FakeClock, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to the end, jumping the fake clock from timer to timer."""
    task = asyncio.ensure_future(coro)
    for _ in range(1000):
        if task.done():
            break
        await clock.run_until_idle()
    return await task


class Script:
    """A handler that raises or returns from a list, recording call times."""

    def __init__(self, clock: FakeClock, outcomes: list[Any]) -> None:
        self.clock = clock
        self.outcomes = list(outcomes)
        self.times: list[float] = []

    async def __call__(self, call: Call) -> Any:
        self.times.append(self.clock.monotonic())
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_retryable_failures_are_retried_until_success(clock: FakeClock) -> None:
    handler = Script(clock, [fail("overloaded", status=503), fail("gateway", status=502), "ok"])
    p = Pipeline(Retry(3, budget=None), clock=clock)
    assert await drive(clock, p.run(handler, CALL)) == "ok"
    assert len(handler.times) == 3


async def test_last_error_is_raised_when_attempts_run_out(clock: FakeClock) -> None:
    last = fail("server", status=500)
    handler = Script(clock, [fail("server", status=500), last])
    with pytest.raises(ProviderError) as info:
        await drive(clock, Pipeline(Retry(2, budget=None), clock=clock).run(handler, CALL))
    assert info.value is last
    assert len(handler.times) == 2


@pytest.mark.parametrize(
    "error",
    [
        fail("bad_request", status=400),
        fail("content_filter", status=400),
        fail("auth", status=401),
        fail("context_length", status=400),
        CircuitOpenError("openai", retry_after=3.0),
        TypeError("a bug in the handler"),
    ],
    ids=["bad_request", "content_filter", "auth", "context_length", "circuit_open", "bug"],
)
async def test_only_retryable_provider_errors_are_retried(
    clock: FakeClock, error: BaseException
) -> None:
    handler = Script(clock, [error, "ok"])
    with pytest.raises(type(error)):
        await drive(clock, Pipeline(Retry(5, budget=None), clock=clock).run(handler, CALL))
    assert len(handler.times) == 1


async def test_full_jitter_delays_stay_within_the_capped_exponential(clock: FakeClock) -> None:
    events: list[Event] = []
    retry = Retry(8, base=0.5, cap=3.0, budget=None, random=random.Random(7))
    handler = Script(clock, [fail("overloaded", status=503)])
    with pytest.raises(ProviderError):
        await drive(clock, Pipeline(retry, clock=clock, hooks=[events.append]).run(handler, CALL))
    delays = [e.delay for e in events if isinstance(e, RetryScheduled)]
    assert len(delays) == 7
    ceilings = [min(3.0, 0.5 * 2**n) for n in range(7)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    # Seeded: the same draws as a Random with the same seed.
    expected = random.Random(7)
    assert delays == [expected.uniform(0, c) for c in ceilings]
    # And the attempts really happened that far apart on the clock.
    gaps = [b - a for a, b in zip(handler.times, handler.times[1:], strict=False)]
    assert gaps == pytest.approx(delays)


@pytest.mark.parametrize(("jitter", "low"), [("equal", 0.5), ("none", 1.0)])
def test_other_jitters_keep_their_floor(jitter: str, low: float) -> None:
    retry = Retry(3, base=1.0, cap=10.0, jitter=jitter, random=random.Random(1))
    for n in range(1, 6):
        ceiling = min(10.0, 2.0 ** (n - 1))
        assert low * ceiling <= retry.backoff(n) <= ceiling


async def test_retry_after_is_honoured_even_above_the_cap(clock: FakeClock) -> None:
    handler = Script(clock, [fail("rate_limit", status=429, retry_after=42.0), "ok"])
    retry = Retry(2, base=0.1, cap=1.0, budget=None)
    assert await drive(clock, Pipeline(retry, clock=clock).run(handler, CALL)) == "ok"
    assert handler.times == [0.0, pytest.approx(42.0)]


async def test_gives_up_at_once_when_the_wait_would_cross_the_deadline(clock: FakeClock) -> None:
    """A 30 s retry-after with 10 s left: raise now, without sleeping."""
    error = fail("rate_limit", status=429, retry_after=30.0)
    handler = Script(clock, [error, "ok"])
    p = Pipeline(Retry(3, budget=None), clock=clock)
    task = asyncio.ensure_future(p.run(handler, CALL.replace(timeout=10.0)))
    await clock.settle()
    assert task.done()
    with pytest.raises(ProviderError) as info:
        await task
    assert info.value is error
    assert clock.monotonic() == 0.0
    assert len(handler.times) == 1
    assert clock.pending() == 0


async def test_retries_that_fit_the_deadline_still_happen(clock: FakeClock) -> None:
    handler = Script(clock, [fail("rate_limit", status=429, retry_after=4.0), "ok"])
    p = Pipeline(Retry(3, budget=None), clock=clock)
    assert await drive(clock, p.run(handler, CALL.replace(timeout=10.0))) == "ok"
    assert handler.times == [0.0, 4.0]


async def test_budget_caps_retries_during_a_storm(clock: FakeClock) -> None:
    """200 concurrent calls to a dead provider, 3 attempts each: without a
    budget that is 600 requests; the budget allows 20% plus a floor of 10."""
    budget = RetryBudget(0.2, min_per_second=1.0, window=10.0)
    handler = Script(clock, [fail("overloaded", status=503)])
    p = Pipeline(Retry(3, budget=budget, random=random.Random(0)), clock=clock)
    tasks = [asyncio.ensure_future(p.run(handler, CALL)) for _ in range(200)]
    await drive(clock, asyncio.gather(*tasks, return_exceptions=True))
    assert all(isinstance(t.exception(), ProviderError) for t in tasks)
    retries = len(handler.times) - 200
    assert 0 < retries <= 0.2 * 200 + 10


async def test_without_a_budget_every_call_gets_its_attempts(clock: FakeClock) -> None:
    handler = Script(clock, [fail("overloaded", status=503)])
    p = Pipeline(Retry(3, budget=None), clock=clock)
    tasks = [asyncio.ensure_future(p.run(handler, CALL)) for _ in range(50)]
    await drive(clock, asyncio.gather(*tasks, return_exceptions=True))
    assert len(handler.times) == 150


async def test_each_retry_is_announced_with_its_delay_and_failure(clock: FakeClock) -> None:
    events: list[Event] = []
    failure = Failure.of("overloaded", status=529)
    handler = Script(clock, [ProviderError(failure, call=CALL), "ok"])
    hook_events: list[Event] = []
    retry = Retry(2, budget=None, hooks=[hook_events.append])
    await drive(clock, Pipeline(retry, clock=clock, hooks=[events.append]).run(handler, CALL))
    scheduled = [e for e in events if isinstance(e, RetryScheduled)]
    assert len(scheduled) == 1 and scheduled[0].failure == failure
    assert [type(e) for e in hook_events] == [RetryScheduled]


async def test_attempt_timeout_turns_a_hang_into_a_retried_timeout(clock: FakeClock) -> None:
    calls: list[float] = []

    async def handler(call: Call) -> str:
        calls.append(clock.monotonic())
        if len(calls) == 1:
            await asyncio.Event().wait()  # hangs until cancelled
        return "ok"

    p = Pipeline(Retry(2, budget=None, attempt_timeout=5.0, jitter="none", base=1.0), clock=clock)
    assert await drive(clock, p.run(handler, CALL)) == "ok"
    assert calls == [0.0, 6.0]  # 5 s timeout, then a 1 s backoff
    assert clock.pending() == 0


async def test_attempt_timeout_is_a_retryable_timeout_that_trips_the_breaker(
    clock: FakeClock,
) -> None:
    async def hang(call: Call) -> str:
        await asyncio.Event().wait()
        return "never"

    breaker = CircuitBreaker(failure_threshold=2, clock=clock)
    p = Pipeline(Retry(2, budget=None, attempt_timeout=1.0), breaker, clock=clock)
    with pytest.raises(ProviderError) as info:
        await drive(clock, p.run(hang, CALL))
    assert info.value.failure.kind is Kind.TIMEOUT
    assert info.value.failure.retryable
    assert info.value.failure.code == "attempt_timeout"
    assert breaker.state(CALL.target) == "open"


async def test_the_call_deadline_wins_over_attempt_timeout(clock: FakeClock) -> None:
    async def hang(call: Call) -> str:
        await asyncio.Event().wait()
        return "never"

    p = Pipeline(Retry(3, budget=None, attempt_timeout=50.0), clock=clock)
    with pytest.raises(ProviderError) as info:
        await drive(clock, p.run(hang, CALL.replace(timeout=2.0)))
    assert info.value.failure.code == "deadline_exceeded"
    assert clock.monotonic() == pytest.approx(2.0)


async def test_no_retry_after_a_stream_delivered_its_first_chunk(clock: FakeClock) -> None:
    attempts = 0

    async def stream() -> AsyncIterator[str]:
        yield "first"
        raise fail("overloaded", status=503)

    async def handler(call: Call) -> AsyncIterator[str]:
        nonlocal attempts
        attempts += 1
        return stream()

    p = Pipeline(Retry(3, budget=None), clock=clock)
    got: list[str] = []
    with pytest.raises(ProviderError):
        async for chunk in p.stream(handler, CALL):
            got.append(chunk)
    assert got == ["first"]
    assert attempts == 1


async def test_works_outside_a_pipeline_with_its_own_clock(clock: FakeClock) -> None:
    handler = Script(clock, [fail("overloaded", status=503), "ok"])
    retry = Retry(2, budget=None, clock=clock, jitter="none", base=2.0)
    assert await drive(clock, retry(CALL, handler)) == "ok"
    assert handler.times == [0.0, 2.0]


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("attempts", {"attempts": 0}),
        ("attempts", {"attempts": 2.5}),
        ("base", {"base": 0}),
        ("cap", {"cap": float("inf")}),
        ("cap", {"base": 5.0, "cap": 1.0}),
        ("jitter", {"jitter": "decorrelated-ish"}),
        ("budget", {"budget": 0.2}),
        ("attempt_timeout", {"attempt_timeout": -1}),
        ("max_requeues", {"max_requeues": -1}),
        ("max_requeues", {"max_requeues": True}),
    ],
)
def test_bad_settings_are_config_errors(field: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        Retry(**kwargs)
    assert info.value.field == field


def test_repeats_calls_so_the_pipeline_puts_attempts_inside() -> None:
    assert Retry.repeats_calls is True


async def test_retry_hands_over_at_once_when_its_own_failure_opened_the_breaker(
    clock: FakeClock,
) -> None:
    """A 503 that trips the breaker is not retried after a wait the breaker would refuse:
    the error reaches Fallback immediately, no time spent."""
    from resilience import CircuitBreaker, Fallback

    sent: list[str] = []

    async def handler(call: Call) -> str:
        sent.append(call.target)
        if call.provider == "a":
            raise ProviderError(Failure.of(Kind.OVERLOADED, status=503, retry_after=1.0), call=call)
        return "from b"

    pipeline = Pipeline(
        Fallback(["b/m"]),
        Retry(3, budget=None),
        CircuitBreaker(failure_threshold=1, reset_timeout=30.0),
        clock=clock,
    )
    result = await pipeline.run(handler, Call("a", "m"))
    assert result == "from b"
    assert sent == ["a/m", "b/m"]
    assert clock.monotonic() == 0.0


async def test_a_long_wait_goes_to_the_next_target_instead_when_fallback_has_one(
    clock: FakeClock,
) -> None:
    """A 503 asking for 2 s is not slept on when Fallback has another target: the call
    moves at once; without a target left, or with failover_after=None, Retry waits."""
    from resilience import Fallback

    def failing(sent: list[str]) -> Any:
        async def handler(call: Call) -> str:
            sent.append(call.target)
            if call.provider == "a":
                raise ProviderError(
                    Failure.of(Kind.OVERLOADED, status=503, retry_after=2.0), call=call
                )
            return "from b"

        return handler

    sent: list[str] = []
    moving = Pipeline(Fallback(["b/m"]), Retry(3, budget=None), clock=clock)
    assert await moving.run(failing(sent), Call("a", "m")) == "from b"
    assert sent == ["a/m", "b/m"]
    assert clock.monotonic() == 0.0

    sent = []
    waiting = Pipeline(Fallback(["b/m"]), Retry(2, budget=None, failover_after=None), clock=clock)
    task = asyncio.create_task(waiting.run(failing(sent), Call("a", "m")))
    await clock.run_until_idle()
    assert await task == "from b"
    assert sent == ["a/m", "a/m", "b/m"]
    assert clock.monotonic() == 2.0

    sent = []
    alone = Pipeline(Retry(2, budget=None), clock=clock)
    task = asyncio.create_task(alone.run(failing(sent), Call("a", "m")))
    await clock.run_until_idle()
    with pytest.raises(ProviderError):
        await task
    assert sent == ["a/m", "a/m"], "no other target: the wait is worth it"


async def test_an_outage_moves_to_the_next_target_at_once_without_a_backoff(
    clock: FakeClock,
) -> None:
    """A 503 (no Retry-After) while Fallback has another target: no sleep on A,
    no second request to it; B answers at time 0."""
    from resilience import Fallback

    sent: list[str] = []

    async def handler(call: Call) -> str:
        sent.append(call.target)
        if call.provider == "a":
            raise ProviderError(Failure.of(Kind.OVERLOADED, status=503), call=call)
        return "from b"

    pipeline = Pipeline(Fallback(["b/m"]), Retry(3, budget=None), clock=clock)
    assert await pipeline.run(handler, Call("a", "m", timeout=30.0)) == "from b"
    assert sent == ["a/m", "b/m"]
    assert clock.monotonic() == 0.0


async def test_when_no_other_target_can_serve_the_outage_is_retried_with_retry_after(
    clock: FakeClock,
) -> None:
    """A answers 503 asking for 2 s, B's breaker is open: the call comes back
    to A, which Retry now waits out (Retry-After honoured), and A serves."""
    from resilience import Fallback

    breaker = CircuitBreaker(failure_threshold=2, reset_timeout=60.0, clock=clock)
    for _ in range(2):
        breaker.allow(Call("b", "m")).failure(Failure.of(Kind.OVERLOADED, status=503))
    sent: list[tuple[float, str]] = []

    async def handler(call: Call) -> str:
        sent.append((clock.monotonic(), call.target))
        if len(sent) == 1:
            raise ProviderError(Failure.of(Kind.OVERLOADED, status=503, retry_after=2.0), call=call)
        return "from a"

    pipeline = Pipeline(Fallback(["b/m"]), Retry(3, budget=None), breaker, clock=clock)
    task = asyncio.create_task(pipeline.run(handler, Call("a", "m", timeout=30.0)))
    await clock.run_until_idle()
    assert await task == "from a"
    assert sent == [(0.0, "a/m"), (2.0, "a/m")]


async def test_a_hung_target_gets_its_share_of_the_deadline_then_the_next_one_serves(
    clock: FakeClock,
) -> None:
    """Deadline 10 s, two targets, A never answers: by default an attempt may
    take the time left divided by the targets left, so A is cut at 5 s as a
    timeout (counted by its breaker) and B serves within the deadline."""
    from resilience import Fallback

    async def handler(call: Call) -> str:
        if call.provider == "a":
            await clock.sleep(3600)
        return "from b"

    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    pipeline = Pipeline(Fallback(["b/m"]), Retry(3), breaker, clock=clock)
    task = asyncio.create_task(pipeline.run(handler, Call("a", "m", timeout=10.0)))
    await clock.run_until_idle()
    assert await task == "from b"
    assert clock.monotonic() == pytest.approx(5.0)
    assert breaker.state("a/m") == "open"


async def test_without_a_deadline_or_another_target_no_attempt_limit_applies() -> None:
    retry = Retry()
    assert retry.attempt_timeout == "split"
    assert retry.attempt_limit(None) is None
    assert Retry(attempt_timeout=2.5).attempt_limit(None) == 2.5
    assert Retry(attempt_timeout=None).attempt_limit(None) is None
    with pytest.raises(ConfigError):
        Retry(attempt_timeout="half")
