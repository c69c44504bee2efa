"""Load spreading: a call that would queue at a busy target goes to another
target of the Fallback that can start it sooner; on its last target it waits."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from resilience import (
    Call,
    CircuitBreaker,
    FakeClock,
    Fallback,
    Kind,
    Limit,
    Pipeline,
    ProviderError,
    RateLimiter,
    Retry,
)
from resilience._core.context import SPILLED
from resilience._core.failure import Failure

A = Call("a", "m", timeout=30.0)


def recorder(clock: FakeClock, took: float = 0.0) -> tuple[list[tuple[float, str]], Any]:
    sent: list[tuple[float, str]] = []

    async def handler(call: Call) -> str:
        sent.append((clock.monotonic(), call.target))
        if took:
            await clock.sleep(took)
        return call.target

    return sent, handler


async def test_spill_after_moves_a_call_only_while_fallback_has_another_target(
    clock: FakeClock,
) -> None:
    """With spill_after, a call facing a long queue moves to the next target at once
    (nothing sent to the first); on its last target it waits its turn instead."""
    sent, handler = recorder(clock)
    limiter = RateLimiter(Limit(rpm=60), spill_after=0.5)
    spilling = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    assert await spilling.run(handler, Call("a", "m")) == "a/m"  # the bucket's one request
    assert await spilling.run(handler, Call("a", "m")) == "b/m"  # a/m would wait ~1 s
    assert [t for _, t in sent] == ["a/m", "b/m"]

    alone = Pipeline(limiter, clock=clock)
    task = asyncio.create_task(alone.run(handler, Call("a", "m")))
    await clock.run_until_idle()
    assert await task == "a/m", "no other target: it waits rather than fail"
    assert clock.monotonic() >= 0.9


async def test_a_call_stays_when_no_other_target_is_sooner_by_spill_after(
    clock: FakeClock,
) -> None:
    """Both targets are as busy: moving would save nothing, so every call keeps
    its place at its own target."""
    sent, handler = recorder(clock)
    limiter = RateLimiter(Limit(rpm=60), spill_after=0.5)
    a_first = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    b_first = Pipeline(Fallback(["a/m"]), limiter, clock=clock)
    tasks = []
    for _ in range(3):
        tasks.append(asyncio.create_task(a_first.run(handler, A)))
        tasks.append(asyncio.create_task(b_first.run(handler, A.replace(provider="b"))))
    await clock.run_until_idle()
    results = await asyncio.gather(*tasks)
    assert results == ["a/m", "b/m"] * 3
    assert sorted(t for t, _ in sent) == pytest.approx([0, 0, 1, 1, 2, 2])


async def test_load_spreads_over_targets_instead_of_queueing_at_the_first(
    clock: FakeClock,
) -> None:
    """Twelve calls for a at once, a and b each allowing one a second: half
    go to b, and the last one leaves at 5 s instead of 11 s."""
    sent, handler = recorder(clock)
    limiter = RateLimiter(Limit(rpm=60), spill_after=0.5)
    pipeline = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    tasks = [asyncio.create_task(pipeline.run(handler, A)) for _ in range(12)]
    await clock.run_until_idle()
    results = await asyncio.gather(*tasks)
    assert results.count("a/m") == 6 and results.count("b/m") == 6
    assert max(t for t, _ in sent) <= 5.0 + 1e-9


async def test_fallback_comes_back_to_a_spilled_target_when_the_others_cannot_serve(
    clock: FakeClock,
) -> None:
    """a is busy and b looks free, but b's breaker is open: the call returns to
    a, told that nothing is left, and waits its turn there."""
    sent, handler = recorder(clock)
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    limiter = RateLimiter(Limit(rpm=60), spill_after=0.5)
    pipeline = Pipeline(Fallback(["b/m"]), Retry(1), breaker, limiter, clock=clock)
    breaker.allow(Call("b", "m")).failure(Failure.of(Kind.OVERLOADED, status=503))
    assert await pipeline.run(handler, A) == "a/m"
    task = asyncio.create_task(pipeline.run(handler, A))
    await clock.run_until_idle()
    assert await task == "a/m"
    assert [t for _, t in sent] == ["a/m", "a/m"]
    assert sent[1][0] == pytest.approx(1.0)


async def test_waiting_calls_move_when_a_pushback_makes_another_target_sooner(
    clock: FakeClock,
) -> None:
    """A call queued at a for less than spill_after moves to b once a 429
    holds a for 10 s (a key paced by tokens only: no request pace caps the hold)."""
    limiter = RateLimiter(Limit(tpm=60), spill_after=1.0)
    pipeline = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    one_token = A.replace(input_tokens=1)
    sent: list[str] = []

    async def handler(call: Call) -> str:
        sent.append(call.target)
        if len(sent) == 1:
            await clock.sleep(0.2)
            raise ProviderError(Failure.of(Kind.RATE_LIMIT, status=429, retry_after=10.0))
        return call.target

    first = asyncio.create_task(pipeline.run(handler, one_token))
    await clock.advance(0.1)
    waiting = asyncio.create_task(pipeline.run(handler, one_token))  # queued at a for ~1 s
    await clock.advance(0.05)
    assert not waiting.done()
    await clock.run_until_idle()
    assert await waiting == "b/m"
    assert await first == "b/m"  # the 429'd call moved too: a is held for 10 s


async def test_a_spill_is_a_local_refusal_with_its_own_code(clock: FakeClock) -> None:
    """Outside Fallback's revisit, a spilled call says why, sent nothing, and may
    fail over but is not retried."""
    limiter = RateLimiter(Limit(rpm=60), spill_after=0.5)
    _sent, handler = recorder(clock)
    pipeline = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    await pipeline.run(handler, A)

    seen: list[ProviderError] = []

    async def b_fails(call: Call) -> str:
        if call.provider == "b":
            raise ProviderError(Failure.of(Kind.OVERLOADED, status=503), call=call)
        return await handler(call)

    class Spy:
        async def __call__(self, call: Call, nxt: Any) -> Any:
            try:
                return await nxt(call)
            except ProviderError as exc:
                seen.append(exc)
                raise

    spying = Pipeline(Fallback(["b/m"]), Spy(), limiter, clock=clock)
    task = asyncio.create_task(spying.run(b_fails, A))
    await clock.run_until_idle()
    assert await task == "a/m"
    spill = seen[0].failure
    assert spill.code == SPILLED and spill.kind is Kind.RATE_LIMIT
    assert spill.failover and not spill.retryable
    assert "no request was sent" in spill.message


async def test_by_default_a_call_moves_when_another_target_starts_it_a_second_sooner(
    clock: FakeClock,
) -> None:
    """spill_after defaults to 1 s: a 0.5 s wait stays, a 2 s wait moves;
    spill_after=None always waits."""
    _sent, handler = recorder(clock)
    assert RateLimiter().spill_after == 1.0
    limiter = RateLimiter(Limit(rpm=120))  # one call every 0.5 s
    pipeline = Pipeline(Fallback(["b/m"]), limiter, clock=clock)
    tasks = [asyncio.create_task(pipeline.run(handler, A)) for _ in range(4)]
    await clock.run_until_idle()
    # a/m at 0 and 0.5 (a wait of 0.5 s stays); the third would wait 1 s, no
    # longer than spill_after, so it stays too; the fourth (1.5 s) moves.
    assert await asyncio.gather(*tasks) == ["a/m", "a/m", "a/m", "b/m"]

    patient = Pipeline(
        Fallback(["b/m"]), RateLimiter(Limit(rpm=120), spill_after=None), clock=clock
    )
    tasks = [asyncio.create_task(patient.run(handler, A)) for _ in range(4)]
    await clock.run_until_idle()
    assert await asyncio.gather(*tasks) == ["a/m"] * 4
