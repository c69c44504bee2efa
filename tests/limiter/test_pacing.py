"""A 429 the limiter can pace never fails a call while its deadline allows.

The limiter slows its key down for the 429 and marks the attempt paced;
Retry then sends the call again at once (no backoff of its own, no attempt
spent, nothing taken from the retry budget meant for outages) and the call
waits at the head of its key's queue.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import (
    Call,
    Event,
    Failure,
    FakeClock,
    Kind,
    Limit,
    Pipeline,
    ProviderError,
    RateLimiter,
    Retry,
    RetryScheduled,
    report,
)
from resilience._limiter.feedback import SLACK
from resilience._retry import RetryBudget
from tests.limiter._support import drive

GPT = Call("openai", "gpt-4o-mini")


def throttle(retry_after: float | None = 1.0, **headers: str) -> ProviderError:
    if headers:
        report(headers={k.replace("_", "-"): v for k, v in headers.items()})
    return ProviderError(Failure.of(Kind.RATE_LIMIT, status=429, retry_after=retry_after))


def openai_headers(limit: int, remaining: int, reset: str) -> dict[str, str]:
    return {
        "x_ratelimit_limit_requests": str(limit),
        "x_ratelimit_remaining_requests": str(remaining),
        "x_ratelimit_reset_requests": reset,
    }


NO_BUDGET = RetryBudget(0.0, min_per_second=0.0)  # any retry it is asked for is refused


class ShortWindowProvider:
    """Enforces ``rpm`` one second's worth at a time, as OpenAI documents, and
    answers every request with the per-minute budget's headers (a 429 too,
    with plenty left by the minute: the case that confuses clients)."""

    def __init__(self, clock: FakeClock, rpm: int, latency: float = 0.03) -> None:
        self.clock, self.rate, self.latency = clock, rpm / 60.0, latency
        self.rpm = rpm
        self.short = self.rate  # one second of quota, full at the start
        self.minute = float(rpm)
        self.stamp = 0.0
        self.ok = 0
        self.throttled = 0

    def _headers(self) -> dict[str, str]:
        spent = self.rpm - self.minute
        return openai_headers(self.rpm, math.floor(self.minute), f"{spent / self.rate:.3f}s")

    async def __call__(self, call: Call) -> Any:
        now = self.clock.monotonic()
        dt = now - self.stamp
        self.stamp = now
        self.short = min(self.rate, self.short + dt * self.rate)
        self.minute = min(float(self.rpm), self.minute + dt * self.rate)
        admitted = self.short >= 1.0
        if admitted:
            self.short -= 1.0
            self.minute -= 1.0
        await self.clock.sleep(self.latency)
        if not admitted:
            self.throttled += 1
            raise throttle(1.0, **self._headers())
        self.ok += 1
        return {"ok": True}


async def test_a_paced_429_is_sent_again_at_once_without_attempts_or_budget(
    clock: FakeClock,
) -> None:
    """Five 429s in a row on a paced key, with two attempts and an empty retry
    budget: the call still succeeds, each re-send announced with no delay."""
    events: list[Event] = []
    limiter = RateLimiter(Limit(rpm=600), clock=clock)
    pipeline = Pipeline(Retry(2, budget=NO_BUDGET), limiter, clock=clock, hooks=[events.append])
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        if len(sent) <= 5:
            raise throttle(1.0, **openai_headers(600, 590, "1s"))
        return "ok"

    task = asyncio.create_task(pipeline.run(handler, GPT.replace(timeout=30.0)))
    await clock.run_until_idle()
    assert await task == "ok"
    assert len(sent) == 6
    retries = [e for e in events if isinstance(e, RetryScheduled)]
    assert [r.delay for r in retries] == [0.0] * 5
    # Paced: each re-send waited the key's slack pause, not a backoff of seconds.
    gaps = [b - a for a, b in itertools.pairwise(sent)]
    assert all(SLACK - 1e-9 <= g <= SLACK + 0.01 for g in gaps)


async def test_without_a_limiter_a_429_still_spends_attempts(clock: FakeClock) -> None:
    """The pacing rule is the limiter's: Retry alone backs off and gives up."""
    pipeline = Pipeline(Retry(2, budget=None), clock=clock)
    calls = 0

    async def handler(call: Call) -> Any:
        nonlocal calls
        calls += 1
        raise throttle(0.1)

    task = asyncio.create_task(pipeline.run(handler, GPT))
    await clock.run_until_idle()
    with pytest.raises(ProviderError):
        await task
    assert calls == 2


async def test_no_call_fails_on_paceable_429s_within_its_deadline(clock: FakeClock) -> None:
    """200 calls from 40 callers with no limit configured, against a provider
    that enforces 600 rpm per second and answers 429s whose headers leave
    budget: every call succeeds with Retry(3) and its default budget, and
    the provider refuses only the first burst that found the limit."""
    provider = ShortWindowProvider(clock, rpm=600)
    limiter = RateLimiter(clock=clock)
    pipeline = Pipeline(Retry(3), limiter, clock=clock)
    work = iter(range(200))
    failures: list[BaseException] = []

    async def caller() -> None:
        for _ in work:
            try:
                await pipeline.run(provider, GPT.replace(timeout=60.0))
            except ProviderError as exc:
                failures.append(exc)

    tasks = [asyncio.create_task(caller()) for _ in range(40)]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    assert failures == []
    assert provider.ok == 200
    assert provider.throttled <= 20  # 10% at most, all from slow start's discovery
    status = limiter.status("openai/gpt-4o-mini")
    assert status is not None and status.stated_rpm == 600


async def test_a_paced_call_goes_to_the_head_of_its_key_queue(clock: FakeClock) -> None:
    """The refused call had waited its turn already: it goes before the calls
    that queued behind it meanwhile."""
    limiter = RateLimiter(Limit(rpm=60), clock=clock)
    pipeline = Pipeline(Retry(3), limiter, clock=clock)
    order: list[str] = []

    async def handler(call: Call) -> Any:
        order.append(call.metadata["name"])
        if order == ["first"]:
            raise throttle(None, **openai_headers(60, 50, "10s"))
        return "ok"

    calls = [GPT.replace(metadata={"name": n}, timeout=60.0) for n in ("first", "b", "c")]
    tasks = [asyncio.create_task(pipeline.run(handler, c)) for c in calls]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    assert order == ["first", "first", "b", "c"]


async def test_without_a_deadline_max_requeues_bounds_paced_429s(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=600), clock=clock)
    pipeline = Pipeline(Retry(3, max_requeues=4), limiter, clock=clock)
    calls = 0

    async def handler(call: Call) -> Any:
        nonlocal calls
        calls += 1
        raise throttle(1.0, **openai_headers(600, 590, "1s"))

    task = asyncio.create_task(pipeline.run(handler, GPT))
    await clock.run_until_idle()
    with pytest.raises(ProviderError) as info:
        await task
    assert info.value.failure.kind is Kind.RATE_LIMIT
    assert calls == 5  # the first send and four requeues


async def test_a_paced_429_never_outlives_the_deadline(clock: FakeClock) -> None:
    """A provider that refuses for ever: the call ends at its deadline with
    a ResilienceError, having re-sent only at the key's pace."""
    limiter = RateLimiter(Limit(rpm=60), clock=clock)
    pipeline = Pipeline(Retry(3), limiter, clock=clock)
    calls = 0

    async def handler(call: Call) -> Any:
        nonlocal calls
        calls += 1
        raise throttle(1.0, **openai_headers(60, 30, "30s"))

    task = asyncio.create_task(pipeline.run(handler, GPT.replace(timeout=5.0)))
    await clock.run_until_idle()
    with pytest.raises(ProviderError):
        await task
    assert clock.monotonic() <= 5.0 + 1e-9
    assert calls <= 6  # one a second at most, the key's pace


async def test_a_429_with_budget_left_pauses_the_key_long_enough_to_leave_slack(
    clock: FakeClock,
) -> None:
    """50 requests/s stated per minute, refused with most of the minute left:
    the provider's one-second bucket is empty, so the key pauses SLACK rather
    than one 20 ms interval before pacing again."""
    limiter = RateLimiter(Limit(rpm=3000), clock=clock)
    limiter.observe(
        GPT,
        Failure.of(Kind.RATE_LIMIT, status=429, retry_after=1.0),
        headers={
            "x-ratelimit-limit-requests": "3000",
            "x-ratelimit-remaining-requests": "2950",
            "x-ratelimit-reset-requests": "1s",
        },
    )
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        return "ok"

    tasks = [asyncio.create_task(limiter(GPT, handler)) for _ in range(3)]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    assert sent == pytest.approx([SLACK, SLACK + 0.02, SLACK + 0.04])


async def test_a_per_day_budget_that_ran_dry_holds_the_key_and_is_not_paced(
    clock: FakeClock,
) -> None:
    """Groq's daily request budget at 0: the key holds until it refills and
    the 429 is a quota, not a pace: Retry does not send the call again."""
    limiter = RateLimiter(clock=clock)
    groq = Call("groq", "llama-3.3-70b-versatile")
    daily = {
        "x-ratelimit-limit-requests": "14400",
        "x-ratelimit-remaining-requests": "14399",
        "x-ratelimit-reset-requests": "6s",
    }
    limiter.observe(groq, headers=daily)
    status = limiter.status("groq/llama-3.3-70b-versatile")
    assert status is not None and status.stated_rpm is None  # a day's budget is no pace
    pipeline = Pipeline(Retry(3, budget=None), limiter, clock=clock)
    calls = 0

    async def handler(call: Call) -> Any:
        nonlocal calls
        calls += 1
        raise throttle(None, **openai_headers(14400, 0, "2h0m0s"))

    task = asyncio.create_task(pipeline.run(handler, groq.replace(timeout=30.0)))
    await clock.run_until_idle()
    with pytest.raises(ProviderError):
        await task
    assert calls == 1
    status = limiter.status("groq/llama-3.3-70b-versatile")
    assert status is not None and status.hold >= 7199.0


async def test_a_stated_limit_ends_slow_start_so_no_burst_passes_it(clock: FakeClock) -> None:
    """No limit configured; the first answer states 600 rpm (10/s) with its
    numbers: the other 59 callers are paced, never more than the stated
    second's worth in any second."""
    limiter = RateLimiter(clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        await clock.sleep(0.2)
        report(headers={"x-ratelimit-limit-requests": "600",
                        "x-ratelimit-remaining-requests": "599",
                        "x-ratelimit-reset-requests": "100ms"})  # fmt: skip
        return "ok"

    pipeline = Pipeline(limiter, clock=clock)
    tasks = [asyncio.create_task(pipeline.run(handler, GPT)) for _ in range(60)]
    await clock.run_until_idle()
    await asyncio.gather(*tasks)
    for start in sent:
        assert sum(1 for t in sent if start <= t < start + 1.0) <= 11
    assert sent[-1] == pytest.approx(6.0, abs=0.25)


@st.composite
def throttled_traffic(
    draw: st.DrawFn,
) -> tuple[Limit | None, list[tuple[float, float, bool, float | None]]]:
    limit = draw(st.sampled_from([None, Limit(rpm=60), Limit(rpm=600, burst=3)]))
    calls = draw(
        st.lists(
            st.tuples(
                st.floats(0, 1),  # gap before it arrives
                st.floats(0.01, 0.5),  # how long the provider takes
                st.booleans(),  # whether its first try is answered 429
                st.one_of(st.none(), st.floats(0, 4)),  # cancelled after this long
            ),
            min_size=1,
            max_size=20,
        )
    )
    return limit, calls


@settings(max_examples=80, deadline=None)
@given(throttled_traffic())
def test_random_429s_never_fail_a_call_and_leak_nothing(
    case: tuple[Limit | None, list[tuple[float, float, bool, float | None]]],
) -> None:
    """Random traffic where some first tries are answered 429 (with budget
    left by the minute, as OpenAI's short-window throttles are): every call
    not cancelled succeeds within its 120 s deadline, whatever Retry's
    attempts and budget; afterwards no slot, queue place or timer is left."""
    asyncio.run(_throttled_traffic(*case))


async def _throttled_traffic(
    limit: Limit | None, calls: list[tuple[float, float, bool, float | None]]
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(limit, clock=clock)
    pipeline = Pipeline(Retry(2, budget=NO_BUDGET), limiter, clock=clock)
    outcomes: dict[int, str] = {}

    def handler_for(index: int, took: float, throttle_first: bool) -> Any:
        tries = 0

        async def handler(call: Call) -> Any:
            nonlocal tries
            tries += 1
            await clock.sleep(took)
            if throttle_first and tries == 1:
                raise throttle(1.0, **openai_headers(600, 400, "20s"))
            return "ok"

        return handler

    async def one(index: int, took: float, throttle_first: bool) -> None:
        try:
            await pipeline.run(handler_for(index, took, throttle_first), GPT.replace(timeout=120.0))
            outcomes[index] = "ok"
        except asyncio.CancelledError:
            outcomes[index] = "cancelled"
            raise

    results = await drive(
        clock, [(gap, cancel) for gap, _, _, cancel in calls], lambda i: one(i, *calls[i][1:3])
    )
    errors = [r for r in results if r is not None and not isinstance(r, asyncio.CancelledError)]
    assert errors == []
    assert all(outcomes.get(i) in ("ok", "cancelled") for i in range(len(calls)))
    key = limiter.key_for(GPT)
    status = limiter.status(key) if key is not None else None
    if status is not None:
        assert (status.in_flight, status.queued, status.waiting_for_slot) == (0, 0, 0)
    assert clock.pending() == 0
