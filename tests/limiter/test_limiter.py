"""RateLimiter: pacing, tokens, slots, pushback, headers, deadlines, permits, learning."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience import (
    Call,
    ConfigError,
    Event,
    Failure,
    FakeClock,
    Kind,
    Pipeline,
    ProviderError,
    RateLimitWait,
    report,
)
from resilience._limiter import Limit, RateLimiter
from resilience._limiter.pace import TOKEN_SPAN
from resilience._store.limiter import MemoryStore
from resilience._stream.resume import PeekedStream
from tests.limiter._support import drive

GPT = Call("openai", "gpt-4o")
# A key limited by tokens only (``Limit(tpm=60)``) paces these at one a second
# with no known request rate: a 429 without rate-limit headers holds it for all
# of retry_after.
GPT_1TOK = GPT.replace(input_tokens=1)


def ok(usage: tuple[int, int] | None = None) -> dict[str, Any]:
    if usage is None:
        return {"text": "ok"}
    return {"usage": {"input_tokens": usage[0], "output_tokens": usage[1]}}


class Recorder:
    """A handler that notes when each call went out and answers after ``took``."""

    def __init__(self, clock: FakeClock, took: float = 0.0) -> None:
        self.clock = clock
        self.took = took
        self.sent: list[tuple[float, Call]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, call: Call) -> Any:
        self.sent.append((self.clock.monotonic(), call))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.took:
                await self.clock.sleep(self.took)
            return ok()
        finally:
            self.in_flight -= 1

    @property
    def times(self) -> list[float]:
        return [round(t, 6) for t, _ in self.sent]


def rate_limited(retry_after: float | None = 1.0) -> ProviderError:
    return ProviderError(Failure.of(Kind.RATE_LIMIT, status=429, retry_after=retry_after))


async def run_all(
    clock: FakeClock, coros: list[Any], until_idle: bool = True
) -> list[asyncio.Task[Any]]:
    tasks = [asyncio.create_task(c) for c in coros]
    if until_idle:
        await clock.run_until_idle()
    return tasks


# -- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rpm": 0}, "rpm"),
        ({"rpm": -5}, "rpm"),
        ({"rpm": float("inf")}, "rpm"),
        ({"rpm": True}, "rpm"),
        ({"tpm": "100"}, "tpm"),
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": 1.5}, "concurrency"),
        ({"rpm": 60, "burst": 0}, "burst"),
        ({"burst": 3}, "burst"),  # burst counts requests: it needs rpm
    ],
)
def test_bad_limit_names_the_field_and_value(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Limit(**kwargs)
    assert info.value.field == field
    assert repr(info.value.value) in str(info.value)


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        ((42,), {}, "limits"),
        (({"": Limit(rpm=1)},), {}, "limits"),
        (({"openai": {"rpm": 1}},), {}, "limits['openai']"),
        ((), {"max_wait": -1}, "max_wait"),
        ((), {"adaptive": "yes"}, "adaptive"),
        ((), {"store": object()}, "store"),
    ],
)
def test_bad_limiter_settings_name_the_field(
    args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        RateLimiter(*args, **kwargs)
    assert info.value.field == field


def test_the_most_specific_configured_key_wins_and_other_models_share_the_provider() -> None:
    limiter = RateLimiter({"openai": Limit(rpm=100), "openai/gpt-4o": Limit(rpm=10)})
    assert limiter.key_for(GPT) == "openai/gpt-4o"
    assert limiter.key_for(Call("openai", "gpt-4o-mini")) == "openai"
    assert limiter.key_for(Call("openai", "o3")) == "openai"
    # Not configured at all: learned per model.
    assert limiter.key_for(Call("anthropic", "claude-haiku-4-5")) == "anthropic/claude-haiku-4-5"


def test_one_limit_applies_to_each_provider_separately() -> None:
    limiter = RateLimiter(Limit(rpm=100))
    assert limiter.key_for(GPT) == "openai"
    assert limiter.key_for(Call("anthropic", "claude-haiku-4-5")) == "anthropic"


async def test_without_limit_and_without_learning_calls_pass_straight_through(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(adaptive=False, clock=clock)
    assert limiter.key_for(GPT) is None
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(50)])
    assert rec.times == [0.0] * 50


# -- pacing --------------------------------------------------------------------------------


async def test_requests_are_paced_evenly_in_arrival_order(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=120), clock=clock)
    rec = Recorder(clock)
    calls = [GPT.replace(metadata={"i": i}) for i in range(6)]
    await run_all(clock, [limiter(c, rec) for c in calls])
    assert rec.times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert [c.metadata["i"] for _, c in rec.sent] == list(range(6))


class LateClock(FakeClock):
    """A fake clock whose timers fire ``late`` seconds after they are due, as
    on a busy event loop."""

    def __init__(self, late: float) -> None:
        super().__init__()
        self.late = late

    def call_at(self, when: float, callback: Callable[[], object]) -> Any:
        return super().call_at(when + self.late, callback)


async def test_timer_lateness_on_a_busy_loop_is_not_lost_to_later_calls() -> None:
    """Timers 5 ms late at 100 calls/s: each send is up to 5 ms late, but the
    schedule keeps its pace, so 100 calls take 1 s, not 1.5 s."""
    clock = LateClock(0.005)
    limiter = RateLimiter(Limit(rpm=6000), clock=clock)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(101)])
    assert rec.times[-1] == pytest.approx(1.005)
    gaps = [b - a for a, b in zip(rec.times, rec.times[1:], strict=False)]
    assert min(gaps) >= 0.005 - 1e-9  # never two at once


async def test_tokens_bucket_holds_a_tenth_of_a_second_of_the_token_rate(
    clock: FakeClock,
) -> None:
    """60,000 tpm is 1,000 tokens/s, so the tokens bucket holds 100 tokens: two
    50-token calls go together, the third when 50 tokens have drained."""
    limiter = RateLimiter(Limit(tpm=60_000), clock=clock)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT.replace(input_tokens=50), rec) for _ in range(3)])
    assert rec.times == [0.0, 0.0, 0.05]


async def test_burst_lets_that_many_go_at_once_then_paces(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=60, burst=3), clock=clock)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(5)])
    assert rec.times == [0.0, 0.0, 0.0, 1.0, 2.0]


async def test_keys_are_independent(clock: FakeClock) -> None:
    limiter = RateLimiter({"openai": Limit(rpm=60), "anthropic": Limit(rpm=60)}, clock=clock)
    rec = Recorder(clock)
    claude = Call("anthropic", "claude-haiku-4-5")
    await run_all(clock, [limiter(GPT, rec), limiter(claude, rec), limiter(GPT, rec)])
    assert sorted(rec.times) == [0.0, 0.0, 1.0]


async def test_tokens_are_reserved_up_front_and_refunded_after(clock: FakeClock) -> None:
    """6000 tpm = 100 tokens/s. Each call reserves 500 (5 s) but uses 100:
    the refund lets the next call go after 1 s of the real usage, not 5."""
    limiter = RateLimiter(Limit(tpm=6000), clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        return ok((50, 50))

    call = GPT.replace(input_tokens=100, max_output_tokens=400)
    await run_all(clock, [limiter(call, handler) for _ in range(3)])
    assert sent == [0.0, 1.0, 2.0]


async def test_under_reservation_puts_the_bucket_in_debt_which_drains(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=6000), clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        return ok((1000, 500))  # 1500 used, only 100 reserved

    call = GPT.replace(input_tokens=50, max_output_tokens=50)
    await run_all(clock, [limiter(call, handler) for _ in range(2)])
    assert sent == [0.0, 15.0]


async def test_reported_usage_wins_over_the_result(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=6000), clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        report(usage={"input_tokens": 100, "output_tokens": 100})
        return ok((1, 1))

    pipeline = Pipeline(limiter, clock=clock)
    call = GPT.replace(input_tokens=50, max_output_tokens=50)
    await run_all(clock, [pipeline.run(handler, call) for _ in range(2)])
    assert sent == [0.0, 2.0]


async def test_a_big_request_is_not_starved_by_small_ones_behind_it(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=600), clock=clock)  # 10 tokens/s
    order: list[int] = []

    async def handler(call: Call) -> Any:
        order.append(call.input_tokens)
        return ok()

    sizes = [10, 300, 10, 10, 10]
    await run_all(clock, [limiter(GPT.replace(input_tokens=n), handler) for n in sizes])
    assert order == sizes


async def test_a_request_larger_than_the_limit_is_a_clear_error(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=10_000), clock=clock)
    rec = Recorder(clock)
    with pytest.raises(ProviderError) as info:
        await limiter(GPT.replace(input_tokens=9_000, max_output_tokens=4_000), rec)
    failure = info.value.failure
    assert failure.kind is Kind.PAYLOAD_TOO_LARGE and failure.code == "exceeds_limit"
    assert "13000" in str(info.value) and "10000" in str(info.value)
    assert rec.sent == []


# -- concurrency -----------------------------------------------------------------------------


async def test_concurrency_cap_holds_and_slots_are_handed_over_in_order(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(concurrency=2), clock=clock)
    rec = Recorder(clock, took=1.0)
    calls = [GPT.replace(metadata={"i": i}) for i in range(5)]
    await run_all(clock, [limiter(c, rec) for c in calls])
    assert rec.most_in_flight == 2
    assert rec.times == [0.0, 0.0, 1.0, 1.0, 2.0]
    assert [c.metadata["i"] for _, c in rec.sent] == list(range(5))


async def test_a_stream_keeps_its_slot_until_it_ends(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(concurrency=1), clock=clock)
    pipeline = Pipeline(limiter, clock=clock)

    async def chunks() -> Any:
        for i in range(3):
            yield i

    async def streaming(call: Call) -> Any:
        return chunks()

    stream = await pipeline.run(streaming, GPT)
    assert isinstance(stream, PeekedStream)
    assert limiter.status("openai") is not None
    assert limiter.status("openai").in_flight == 1  # type: ignore[union-attr]
    second = asyncio.create_task(pipeline.run(Recorder(clock), GPT))
    await clock.advance(5)
    assert not second.done()
    assert [c async for c in stream] == [0, 1, 2]
    await clock.advance(0)
    assert second.done() and second.exception() is None


async def test_a_stream_that_breaks_midway_gives_its_slot_back(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(concurrency=1), clock=clock)
    pipeline = Pipeline(limiter, clock=clock)

    class Broken(Exception):
        status_code = 503

    async def chunks() -> Any:
        yield 0
        raise Broken("connection dropped")

    async def streaming(call: Call) -> Any:
        return chunks()

    stream = await pipeline.run(streaming, GPT)
    with pytest.raises(ProviderError):
        async for _ in stream:
            pass
    status = limiter.status("openai")
    assert status is not None and status.in_flight == 0


# -- pushback and headers ----------------------------------------------------------------------


async def test_a_429_holds_every_new_call_to_the_key_until_retry_after(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(concurrency=100), clock=clock)  # no known request pace
    events: list[Event] = []
    pipeline = Pipeline(limiter, clock=clock, hooks=[events.append])

    async def throttled(call: Call) -> Any:
        raise rate_limited(retry_after=3.0)

    with pytest.raises(ProviderError):
        await pipeline.run(throttled, GPT)
    rec = Recorder(clock)
    claude = Call("anthropic", "claude-haiku-4-5")
    await run_all(clock, [pipeline.run(rec, GPT), pipeline.run(rec, claude)])
    by_model = {c.model: t for t, c in rec.sent}
    assert by_model == {"gpt-4o": 3.0, "claude-haiku-4-5": 0.0}
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    assert [(w.key, w.dimension, w.wait) for w in waits] == [("openai", "pushback", 3.0)]


EXHAUSTED = {
    "x-ratelimit-limit-requests": "300",
    "x-ratelimit-remaining-requests": "0",
    "x-ratelimit-reset-requests": "1m0s",  # a per-minute budget refills in a minute
}


async def test_a_429_whose_headers_name_the_dry_budget_resyncs_instead_of_holding(
    clock: FakeClock,
) -> None:
    """retry_after says 1 s, but the headers say the requests budget (300 rpm,
    as configured) ran dry: the bucket is emptied and refills at the pace, so
    the key loses one interval (0.2 s), not the whole second."""
    limiter = RateLimiter(Limit(rpm=300, burst=5), clock=clock)
    limiter.observe(GPT, rate_limited(retry_after=1.0).failure, headers=EXHAUSTED)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(3)])
    assert rec.times == [0.2, 0.4, 0.6]
    status = limiter.status("openai")
    assert status is not None and status.hold == float("-inf")


async def test_a_429_whose_headers_leave_budget_costs_the_burst_and_one_interval(
    clock: FakeClock,
) -> None:
    """Budget left by the minute yet refused: the provider counted over a
    shorter window. The key gives up its burst and waits one interval."""
    limiter = RateLimiter(Limit(rpm=300, burst=5), clock=clock)
    headers = {
        **EXHAUSTED,
        "x-ratelimit-remaining-requests": "120",
        "x-ratelimit-reset-requests": "36s",
    }
    limiter.observe(GPT, rate_limited(retry_after=1.0).failure, headers=headers)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(2)])
    assert rec.times == [0.2, 0.4]


async def test_a_429_without_headers_holds_a_paced_key_no_longer_than_its_bucket_drains(
    clock: FakeClock,
) -> None:
    """retry_after 30 s on a key paced at 300 rpm with a burst of 5: held 1 s
    (its bucket's span), not 30; a key without a known pace waits all 30."""
    paced = RateLimiter(Limit(rpm=300, burst=5), clock=clock)
    unpaced = RateLimiter(Limit(concurrency=10), clock=clock)
    for limiter in (paced, unpaced):
        limiter.observe(GPT, rate_limited(retry_after=30.0).failure)
    rec = Recorder(clock)
    await run_all(clock, [paced(GPT, rec), unpaced(GPT, rec)])
    assert rec.times == [1.0, 30.0]


async def test_a_429_stating_only_a_token_budget_with_plenty_left_still_holds(
    clock: FakeClock,
) -> None:
    """A key without a request pace whose headers leave tokens: nothing to
    resync explains the 429, so retry_after holds it."""
    limiter = RateLimiter(Limit(tpm=60_000), clock=clock)
    headers = {"x-ratelimit-limit-tokens": "60000", "x-ratelimit-remaining-tokens": "50000"}
    limiter.observe(GPT, rate_limited(retry_after=2.0).failure, headers=headers)
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec)])
    assert rec.times == [2.0]


async def test_429s_whose_headers_keep_stating_the_configured_limit_teach_nothing(
    clock: FakeClock,
) -> None:
    """Isolated 429s stating the same limit (as providers send with random
    throttles) do not learn the configured limit down; header-less ones do."""
    limiter = RateLimiter(Limit(rpm=300, burst=5), clock=clock)
    for _ in range(6):
        await clock.advance(1.0)
        limiter.observe(GPT, rate_limited(retry_after=1.0).failure, headers=EXHAUSTED)
    status = limiter.status("openai")
    assert status is not None and status.learned_rpm is None and status.rpm == 300
    for _ in range(6):
        await clock.advance(1.0)
        limiter.observe(GPT, rate_limited(retry_after=1.0).failure)
    status = limiter.status("openai")
    assert status is not None and status.learned_rpm is not None and status.rpm < 300


async def test_pushback_also_holds_calls_already_queued(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=60), clock=clock)
    outcomes: list[str] = []

    async def handler(call: Call) -> Any:
        outcomes.append(f"{clock.monotonic():g}")
        if len(outcomes) == 1:
            raise rate_limited(retry_after=10.0)
        return ok()

    tasks = await run_all(clock, [limiter(GPT_1TOK, handler) for _ in range(3)])
    assert outcomes[:2] == ["0", "10"] and float(outcomes[2]) > 10.5
    assert isinstance(tasks[0].exception(), ProviderError)


async def test_stated_limit_in_headers_paces_a_key_nobody_configured(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)  # adaptive, no limit
    pipeline = Pipeline(limiter, clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        report(
            headers={
                "x-ratelimit-limit-requests": "60",
                "x-ratelimit-remaining-requests": "59",
                "x-ratelimit-reset-requests": "1s",
            }
        )
        return ok()

    await run_all(clock, [pipeline.run(handler, GPT) for _ in range(4)])
    assert sent == [0.0, 1.0, 2.0, 3.0]
    status = limiter.status("openai/gpt-4o")
    assert status is not None and status.stated_rpm == 60 and status.rpm == 60


async def test_stated_limit_lower_than_configured_wins(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=6000), clock=clock)
    limiter.observe(
        GPT,
        headers={
            "x-ratelimit-limit-requests": "120",
            "x-ratelimit-remaining-requests": "119",
            "x-ratelimit-reset-requests": "500ms",
        },
    )
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(3)])
    assert rec.times == [0.0, 0.5, 1.0]


async def test_remaining_zero_in_headers_resyncs_the_bucket(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=60, burst=5), clock=clock)
    limiter.observe(
        GPT,
        headers={
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": "1m0s",
        },
    )
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(2)])
    assert rec.times == [1.0, 2.0]  # one drained unit before the first


async def test_anthropic_headers_resync_tokens(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=60_000), clock=clock)
    limiter.observe(
        Call("anthropic", "claude-haiku-4-5"),
        headers={
            "date": "Thu, 01 Jan 2026 00:00:00 GMT",
            "anthropic-ratelimit-tokens-limit": "6000",
            "anthropic-ratelimit-tokens-remaining": "5000",
            "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:10Z",
        },
    )
    status = limiter.status("anthropic")
    assert status is not None and status.tpm == 6000


async def test_garbage_headers_change_nothing(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=60), clock=clock)
    for junk in ({"x-ratelimit-limit-requests": "lots"}, {"retry-after": "\x00"}, "nonsense", 7):
        limiter.observe(GPT, headers=junk)
    status = limiter.status("openai")
    assert status is not None and status.rpm == 60 and status.stated_rpm is None


# -- deadlines -----------------------------------------------------------------------------------


async def test_a_call_whose_deadline_passes_before_admission_fails_at_once(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(Limit(rpm=6), clock=clock)  # one per 10 s
    rec = Recorder(clock)
    await limiter(GPT, rec)
    pipeline = Pipeline(limiter, clock=clock)
    with pytest.raises(ProviderError) as info:
        await pipeline.run(rec, GPT.replace(timeout=3.0))
    failure = info.value.failure
    assert failure.kind is Kind.RATE_LIMIT and failure.code == "local_rate_limit"
    assert failure.retry_after == pytest.approx(10.0)
    assert clock.monotonic() == 0.0 and len(rec.sent) == 1


async def test_max_wait_bounds_the_wait_outside_any_deadline(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=6), clock=clock, max_wait=2.0)
    rec = Recorder(clock)
    await limiter(GPT, rec)
    with pytest.raises(ProviderError) as info:
        await limiter(GPT, rec)
    assert info.value.failure.code == "local_rate_limit"


async def test_a_local_hold_is_not_retryable_but_may_fail_over(clock: FakeClock) -> None:
    """Retry would sleep out the very wait max_wait refused; Fallback may
    send the call elsewhere at once."""
    limiter = RateLimiter(Limit(rpm=6), clock=clock, max_wait=2.0)
    rec = Recorder(clock)
    await limiter(GPT, rec)
    with pytest.raises(ProviderError) as info:
        await limiter(GPT, rec)
    failure = info.value.failure
    assert failure.retryable is False and failure.failover is True
    assert len(rec.sent) == 1


async def test_call_timeout_is_the_budget_outside_a_pipeline(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=6), clock=clock)
    rec = Recorder(clock)
    await limiter(GPT, rec)
    with pytest.raises(ProviderError):
        await limiter(GPT.replace(timeout=5.0), rec)
    await run_all(clock, [limiter(GPT.replace(timeout=15.0), rec)])
    assert rec.times == [0.0, 10.0]


async def test_queued_calls_past_their_deadline_after_a_pushback_fail_at_once(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(Limit(tpm=60), clock=clock)
    pipeline = Pipeline(limiter, clock=clock)
    first = True

    async def handler(call: Call) -> Any:
        nonlocal first
        if first:
            first = False
            await clock.sleep(0.5)
            raise rate_limited(retry_after=30.0)
        return ok()

    tasks = await run_all(
        clock, [pipeline.run(handler, GPT_1TOK.replace(timeout=5.0)) for _ in range(3)], False
    )
    await clock.advance(0.5)
    assert all(t.done() for t in tasks[1:])
    for task in tasks[1:]:
        error = task.exception()
        assert isinstance(error, ProviderError) and error.failure.code == "local_rate_limit"
    assert clock.monotonic() == 0.5


async def test_a_waited_call_emits_a_ratelimit_wait_event(clock: FakeClock) -> None:
    events: list[Event] = []
    limiter = RateLimiter(Limit(rpm=60), clock=clock, hooks=[events.append])
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(2)])
    waits = [e for e in events if isinstance(e, RateLimitWait)]
    assert [(w.key, w.wait, w.dimension) for w in waits] == [("openai", 1.0, "requests")]


# -- cancellation ---------------------------------------------------------------------------------


async def test_cancelling_waiting_calls_releases_slots_and_queue_places(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=60, concurrency=2), clock=clock)
    rec = Recorder(clock, took=0.1)
    tasks = await run_all(clock, [limiter(GPT, rec) for _ in range(6)], False)
    await clock.advance(0)
    for task in tasks[1:5]:
        task.cancel()
    await clock.run_until_idle()
    status = limiter.status("openai")
    assert status is not None
    assert (status.in_flight, status.queued, status.waiting_for_slot) == (0, 0, 0)
    assert rec.times == [0.0, 1.0]
    assert clock.pending() == 0


# -- low-level API -------------------------------------------------------------------------------


async def test_acquire_release_is_idempotent_and_reconciles_usage(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(tpm=6000, concurrency=1), clock=clock)
    call = GPT.replace(input_tokens=100, max_output_tokens=900)
    permit = await limiter.acquire(call)
    assert permit.key == "openai"
    assert limiter.status("openai").in_flight == 1  # type: ignore[union-attr]
    permit.release(usage={"prompt_tokens": 100, "completion_tokens": 0})
    permit.release(usage={"prompt_tokens": 100, "completion_tokens": 0})
    permit.fail(Failure.of(Kind.RATE_LIMIT, retry_after=100.0))  # ignored: settled
    assert limiter.status("openai").in_flight == 0  # type: ignore[union-attr]
    second = asyncio.create_task(limiter.acquire(call))
    await clock.advance(1.0)  # 100 tokens used = 1 s at 100 tokens/s
    assert second.done()
    second.result().fail(Failure.of(Kind.RATE_LIMIT, retry_after=4.0))
    third = asyncio.create_task(limiter.acquire(call))
    await clock.advance(3.9)
    assert not third.done()
    await clock.advance(0.1)
    assert third.done()
    third.result().release()


async def test_observe_feeds_pushback_without_a_permit(clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(concurrency=10), clock=clock)
    limiter.observe(GPT, failure=Failure.of(Kind.RATE_LIMIT, retry_after=2.0))
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec)])
    assert rec.times == [2.0]


async def test_unlimited_call_gets_a_no_op_permit(clock: FakeClock) -> None:
    permit = await RateLimiter(adaptive=False, clock=clock).acquire(GPT)
    assert permit.key is None
    permit.release()
    assert permit.settled


# -- learning ------------------------------------------------------------------------------------


async def test_an_unconfigured_key_starts_slow_one_more_call_in_flight_per_slow_answer(
    clock: FakeClock,
) -> None:
    """Slow start: one call in flight, then one more per answer (the window
    doubles per round trip) while answers take PROBE_DOUBLING or longer."""
    limiter = RateLimiter(clock=clock)
    rec = Recorder(clock, took=0.5)
    await run_all(clock, [limiter(GPT, rec) for _ in range(8)])
    assert rec.times == [0.0, 0.5, 0.5, 1.0, 1.0, 1.0, 1.0, 1.5]


async def test_slow_start_doubles_at_most_every_probe_doubling_seconds(clock: FakeClock) -> None:
    """Answers in 50 ms: the window grows by 2**(0.05/0.25) - 1 per answer, so
    it has not yet doubled after 0.25 s (five round trips) and four calls
    have gone, not the 2**5 a doubling per round trip would send."""
    limiter = RateLimiter(clock=clock)
    rec = Recorder(clock, took=0.05)
    tasks = [asyncio.create_task(limiter(GPT, rec)) for _ in range(100)]
    await clock.advance(0.26)
    assert len(rec.sent) <= 7
    status = limiter.status("openai/gpt-4o")
    assert status is not None and status.probing
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_slow_start_ends_when_answers_are_slow(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    rec = Recorder(clock, took=10.0)
    await run_all(clock, [limiter(GPT, rec) for _ in range(5)])
    assert rec.times == [0.0, 2.0, 2.0, 2.0, 2.0]


async def test_slow_start_ends_at_the_first_throttle(clock: FakeClock) -> None:
    limiter = RateLimiter(clock=clock)
    sent: list[float] = []

    async def handler(call: Call) -> Any:
        sent.append(clock.monotonic())
        await clock.sleep(0.1)
        if len(sent) == 1:
            raise rate_limited(retry_after=None)
        return ok()

    await run_all(clock, [limiter(GPT, handler) for _ in range(4)])
    assert sent[:1] == [0.0] and len(sent) == 4
    status = limiter.status("openai/gpt-4o")
    assert status is not None and status.learned_rpm is not None


class SimulatedProvider:
    """A provider admitting ``rate`` requests/s from a one-second bucket,
    answering 429 with a retry_after when empty, after ``rtt`` seconds."""

    def __init__(self, clock: FakeClock, rate: float, rtt: float, headers: bool) -> None:
        self.clock, self.rate, self.rtt, self.headers = clock, rate, rtt, headers
        self.level, self.stamp = rate, 0.0
        self.ok: list[float] = []
        self.throttled = 0

    async def __call__(self, call: Call) -> Any:
        now = self.clock.monotonic()
        self.level = min(self.rate, self.level + (now - self.stamp) * self.rate)
        self.stamp = now
        admitted = self.level >= 1.0
        if admitted:
            self.level -= 1.0
        await self.clock.sleep(self.rtt)
        if self.headers:
            report(headers={"x-ratelimit-limit-requests": str(int(self.rate * 60))})
        if not admitted:
            self.throttled += 1
            raise rate_limited(retry_after=(1.0 - self.level) / self.rate)
        self.ok.append(now)
        return ok()


async def _hammer(
    clock: FakeClock, limiter: RateLimiter, provider: SimulatedProvider, seconds: float
) -> None:
    pipeline = Pipeline(limiter, clock=clock)

    async def caller() -> None:
        while clock.monotonic() < seconds:
            with contextlib.suppress(ProviderError):
                await pipeline.run(provider, GPT)

    tasks = [asyncio.create_task(caller()) for _ in range(40)]
    await clock.advance(seconds + 5)
    await asyncio.gather(*tasks)


async def test_learning_converges_near_the_true_limit_of_a_simulated_provider(
    clock: FakeClock,
) -> None:
    provider = SimulatedProvider(clock, rate=10.0, rtt=0.3, headers=False)
    limiter = RateLimiter(clock=clock)
    await _hammer(clock, limiter, provider, 60.0)
    late = [t for t in provider.ok if 20.0 <= t < 60.0]
    assert 0.75 * 10.0 <= len(late) / 40.0 <= 1.01 * 10.0
    assert provider.throttled / (provider.throttled + len(provider.ok)) < 0.10


async def test_a_configured_limit_that_is_too_high_is_learned_down(clock: FakeClock) -> None:
    """Configured at 50/s against a provider admitting 10/s: isolated 429s are
    trusted to be noise, repeated ones engage learning. The 429 share includes
    that start-up, where the configured limit is still believed."""
    provider = SimulatedProvider(clock, rate=10.0, rtt=0.3, headers=False)
    limiter = RateLimiter(Limit(rpm=3000), clock=clock)
    await _hammer(clock, limiter, provider, 60.0)
    status = limiter.status("openai")
    assert status is not None and status.learned_rpm is not None
    late = [t for t in provider.ok if 20.0 <= t < 60.0]
    assert len(late) / 40.0 >= 0.75 * 10.0
    assert provider.throttled / (provider.throttled + len(provider.ok)) < 0.12


async def test_with_a_custom_store_the_limiter_goes_through_its_interface(
    clock: FakeClock,
) -> None:
    calls: list[str] = []

    class Spy(MemoryStore):
        async def reserve(self, *a: Any, **k: Any) -> Any:
            calls.append("reserve")
            return await super().reserve(*a, **k)

        async def hold(self, key: str, until: float) -> float:
            calls.append("hold")
            return await super().hold(key, until)

    limiter = RateLimiter(Limit(rpm=60), clock=clock, store=_Delegate(Spy()))
    rec = Recorder(clock)
    await run_all(clock, [limiter(GPT, rec) for _ in range(2)])
    limiter.observe(GPT, failure=Failure.of(Kind.RATE_LIMIT, retry_after=1.0))
    await clock.advance(0)
    assert rec.times == [0.0, 1.0]
    assert "reserve" in calls and "hold" in calls


class _Delegate:
    """A store that is not a MemoryStore (so the limiter cannot take its sync path)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Callable[..., Any]:
        return getattr(self.inner, name)  # type: ignore[no-any-return]

    async def reserve(self, *a: Any, **k: Any) -> Any:
        return await self.inner.reserve(*a, **k)

    async def adjust(self, *a: Any, **k: Any) -> None:
        await self.inner.adjust(*a, **k)

    async def sync(self, *a: Any, **k: Any) -> None:
        await self.inner.sync(*a, **k)

    async def hold(self, key: str, until: float) -> float:
        return await self.inner.hold(key, until)


# -- properties over random traffic ------------------------------------------------------------


@st.composite
def traffic(
    draw: st.DrawFn,
) -> tuple[Limit, list[tuple[float, int, int, float, float, float | None]]]:
    rpm = draw(st.sampled_from([60, 600, 6000]))
    tpm = draw(st.sampled_from([None, 3000, 60_000]))
    burst = draw(st.sampled_from([None, 1, 4]))
    concurrency = draw(st.sampled_from([None, 1, 3]))
    limit = Limit(rpm=rpm, tpm=tpm, burst=burst, concurrency=concurrency)
    calls = draw(
        st.lists(
            st.tuples(
                st.floats(0, 2),  # gap before it arrives
                st.integers(0, 200),  # input tokens
                st.integers(0, 300),  # max output tokens
                st.floats(0, 1),  # share of the reservation really used
                st.floats(0, 3),  # how long the provider takes
                st.one_of(st.none(), st.floats(0, 6)),  # cancelled after this long
            ),
            min_size=1,
            max_size=25,
        )
    )
    return limit, calls


def _window_ok(
    events: list[tuple[float, float, float]], per_second: float, capacity: float
) -> bool:
    """``events`` are (time, units used, units reserved). Over every window the
    units used stay within rate x window + the bucket, or the largest single
    reservation in that window when it overdrew a bucket smaller than itself."""
    events = sorted(events)
    for i, (start, _, _) in enumerate(events):
        total = 0.0
        largest = capacity
        for t, used, reserved in events[i:]:
            total += used
            largest = max(largest, reserved)
            if total > (t - start) * per_second + largest + 1e-6:
                return False
    return True


@settings(max_examples=120, deadline=None)
@given(traffic())
def test_random_traffic_keeps_every_promise(
    case: tuple[Limit, list[tuple[float, int, int, float, float, float | None]]],
) -> None:
    """Over any window, admitted requests stay within rate x window + burst and
    tokens really used within rate x window + the larger of the bucket and the
    largest call; calls in flight never exceed the cap; calls are admitted in
    arrival order (no waiter starves); cancelling at any point leaks nothing:
    afterwards no slot, queue place or timer is left and a fresh call goes at once."""
    limit, calls = case
    asyncio.run(_random_traffic(limit, calls))


async def _random_traffic(
    limit: Limit, calls: list[tuple[float, int, int, float, float, float | None]]
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(limit, clock=clock)
    admitted: list[tuple[float, int, float, float]] = []  # (time, index, reserved, used)
    in_flight = most = 0

    def handler_for(index: int, share: float, took: float) -> Callable[[Call], Any]:
        async def handler(call: Call) -> Any:
            nonlocal in_flight, most
            reserved = float(call.input_tokens + call.max_output_tokens)
            used_in = int(call.input_tokens * share)
            used_out = int(call.max_output_tokens * share)
            # Until the usage is known, count the whole reservation (cancelled
            # calls keep it); the true usage replaces it when the call ends.
            admitted.append((clock.monotonic(), index, reserved, reserved))
            slot = len(admitted) - 1
            in_flight += 1
            most = max(most, in_flight)
            try:
                await clock.sleep(took)
            finally:
                in_flight -= 1
            t, i, r, _ = admitted[slot]
            admitted[slot] = (t, i, r, float(used_in + used_out))
            return ok((used_in, used_out))

        return handler

    async def one(index: int, call: Call, share: float, took: float) -> None:
        try:
            await limiter(call, handler_for(index, share, took))
        except ProviderError as exc:  # only an oversized call may fail
            assert exc.failure.kind is Kind.PAYLOAD_TOO_LARGE

    def start(i: int) -> Any:
        _, inp, out, share, took, _ = calls[i]
        return one(i, GPT.replace(input_tokens=inp, max_output_tokens=out), share, took)

    await drive(clock, [(c[0], c[5]) for c in calls], start)

    rps = (limit.rpm or 0) / 60.0
    assert _window_ok([(t, 1.0, 1.0) for t, _, _, _ in admitted], rps, float(limit.burst or 1))
    if limit.tpm:
        state = limiter.status("openai")
        assert state is not None
        tps = limit.tpm / 60.0
        capacity = max((limit.burst or 1) / rps, TOKEN_SPAN) * tps
        assert _window_ok([(t, u, r) for t, _, r, u in admitted], tps, capacity)
    if limit.concurrency:
        assert most <= limit.concurrency
    order = [i for _, i, _, _ in sorted(admitted, key=lambda a: (a[0], a[1]))]
    assert order == sorted(order)
    status = limiter.status("openai")
    if status is not None:
        assert (status.in_flight, status.queued, status.waiting_for_slot) == (0, 0, 0)
    assert clock.pending() == 0
    # Whatever happened, the buckets drain: a minute later a call goes at once.
    await clock.advance(61.0)
    probe = asyncio.create_task(limiter(GPT, handler_for(-1, 0.0, 0.0)))
    await clock.advance(0)
    assert probe.done()


# -- against the fake provider, through the real openai SDK ---------------------------------------


async def test_adaptive_limiter_learns_the_fake_providers_limit_through_the_openai_sdk() -> None:
    """No limit configured: slow start sends one call, the provider's headers
    state 3000 rpm, and the other 59 callers are paced under it: every call
    succeeds and the provider answers no 429 (real SDK, real HTTP, real time)."""
    openai = pytest.importorskip("openai")
    from resilience import Retry
    from resilience.testing import FakeProvider

    async with FakeProvider(rpm=3000) as fp:
        client = openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test", max_retries=0)
        limiter = RateLimiter()
        pipeline = Pipeline(Retry(3), limiter)

        async def handler(call: Call) -> Any:
            raw = await client.chat.completions.with_raw_response.create(
                model=call.model,
                messages=[{"role": "user", "content": "hello " * call.input_tokens}],
                max_tokens=call.max_output_tokens,
            )
            report(headers=raw.headers)
            return raw.parse()

        calls = [
            Call("openai", "gpt-4o-mini", input_tokens=5 + i % 7, max_output_tokens=16)
            for i in range(60)
        ]
        results = await asyncio.gather(*(pipeline.run(handler, c) for c in calls))
        await client.close()
    assert all(r.usage.completion_tokens > 0 for r in results)
    assert fp.count(429) == 0
    assert fp.count(200) == 60
    status = limiter.status("openai/gpt-4o-mini")
    assert status is not None and status.stated_rpm == 3000
