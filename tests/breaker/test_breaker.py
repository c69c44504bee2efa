"""CircuitBreaker: when it opens, what it lets through, per-model keys,
probes, listeners, shared records, and a property test of its state machine."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from resilience import (
    BreakerReject,
    BreakerStateChange,
    Call,
    CircuitOpenError,
    ConfigError,
    Event,
    Failure,
    FakeClock,
    Pipeline,
    ProviderError,
)
from resilience._breaker import CircuitBreaker
from resilience._store.breaker import BreakerRecord, MemoryBreakerStore

CALL = Call(provider="openai", model="gpt-4o")
OTHER = Call(provider="openai", model="gpt-4o-mini")
THIRD = Call(provider="openai", model="o3")


def failure(status: int, **kw: Any) -> Failure:
    kinds = {
        429: "rate_limit",
        400: "bad_request",
        500: "server",
        502: "gateway",
        503: "overloaded",
    }
    return Failure.of(kinds[status], status=status, **kw)


def feed(breaker: CircuitBreaker, call: Call, outcomes: list[int | None]) -> None:
    """Report outcomes through the low-level API: None is a success."""
    for outcome in outcomes:
        permit = breaker.allow(call)
        if outcome is None:
            permit.success()
        else:
            permit.failure(failure(outcome))


def make(clock: FakeClock, **kw: Any) -> CircuitBreaker:
    kw.setdefault("random", random.Random(0))
    return CircuitBreaker(clock=clock, **kw)


async def test_opens_after_a_run_of_consecutive_failures(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=3)
    feed(breaker, CALL, [503, 503])
    assert breaker.state(CALL.target) == "closed"
    feed(breaker, CALL, [503])
    assert breaker.state(CALL.target) == "open"
    with pytest.raises(CircuitOpenError) as info:
        breaker.allow(CALL)
    assert info.value.key == CALL.target
    assert info.value.call == CALL
    assert 15.0 <= info.value.retry_after <= 18.0  # reset_timeout plus up to 20% jitter


async def test_a_success_breaks_the_run(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=3, min_calls=100)
    feed(breaker, CALL, [503, 503, None, 503, 503, None, 503, 503])
    assert breaker.state(CALL.target) == "closed"


async def test_opens_on_failure_rate_once_min_calls_were_seen(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100, failure_rate=0.5, min_calls=10)
    feed(breaker, CALL, [503, 503, None, 503, None, 503, None, 503, None])  # 9 calls, 5 failures
    assert breaker.state(CALL.target) == "closed"
    feed(breaker, CALL, [503])  # 10 calls, 6 failures: over 50%
    assert breaker.state(CALL.target) == "open"


async def test_a_success_never_opens_it(clock: FakeClock) -> None:
    """The rate is judged when a failure arrives, not on a success."""
    breaker = make(clock, failure_threshold=100, failure_rate=0.5, min_calls=10)
    feed(breaker, CALL, [503, None] * 5)
    assert breaker.state(CALL.target) == "closed"


async def test_failures_that_left_the_window_do_not_count(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=100, failure_rate=0.5, min_calls=10, window=10.0)
    feed(breaker, CALL, [503] * 6)
    await clock.advance(11.0)
    feed(breaker, CALL, [None, 503, None, 503, None, None, None, 503, None, 503])
    assert breaker.state(CALL.target) == "closed"


@pytest.mark.parametrize("status", [429, 400])
async def test_rate_limits_and_bad_requests_never_trip(clock: FakeClock, status: int) -> None:
    breaker = make(clock, failure_threshold=2, min_calls=2)
    feed(breaker, CALL, [status] * 500)
    assert breaker.state(CALL.target) == "closed"
    assert breaker.state(CALL.provider) == "closed"


async def test_a_429_neither_trips_nor_hides_an_outage(clock: FakeClock) -> None:
    """It is no success either: 4 outages, a 429, one more outage opens."""
    breaker = make(clock, failure_threshold=5, min_calls=100)
    feed(breaker, CALL, [503, 503, 503, 503, 429, 503])
    assert breaker.state(CALL.target) == "open"


async def test_while_open_calls_fail_at_once_and_never_reach_the_inside(clock: FakeClock) -> None:
    events: list[Event] = []
    inner_calls = 0

    async def limiter(call: Call, handler: Any) -> Any:
        nonlocal inner_calls
        inner_calls += 1
        return await handler(call)

    async def handler(call: Call) -> str:
        raise ProviderError(failure(503), call=call)

    breaker = make(clock, failure_threshold=2)
    p = Pipeline(breaker, limiter, clock=clock, hooks=[events.append])
    for _ in range(2):
        with pytest.raises(ProviderError):
            await p.run(handler, CALL)
    for _ in range(5):
        with pytest.raises(CircuitOpenError):
            await p.run(handler, CALL)
    assert inner_calls == 2
    rejects = [e for e in events if isinstance(e, BreakerReject)]
    assert len(rejects) == 5 and rejects[0].key == CALL.target
    changes = [(e.key, e.old, e.new) for e in events if isinstance(e, BreakerStateChange)]
    assert changes == [(CALL.target, "closed", "open")]


async def test_half_open_admits_one_probe_and_its_success_closes(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=10.0)
    feed(breaker, CALL, [503])
    await clock.advance(12.0)
    assert breaker.state(CALL.target) == "half-open"
    probe = breaker.allow(CALL)
    assert probe.probing
    with pytest.raises(CircuitOpenError):
        breaker.allow(CALL)
    probe.success()
    assert breaker.state(CALL.target) == "closed"
    breaker.allow(CALL).success()


async def test_several_probes_when_configured_and_all_must_succeed(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=1.0, half_open_probes=3)
    feed(breaker, CALL, [503])
    await clock.advance(1.2)
    probes = [breaker.allow(CALL) for _ in range(3)]
    with pytest.raises(CircuitOpenError):
        breaker.allow(CALL)
    probes[0].success()
    probes[1].success()
    assert breaker.state(CALL.target) == "half-open"
    probes[2].success()
    assert breaker.state(CALL.target) == "closed"


async def test_a_failed_probe_reopens_for_longer_up_to_the_cap(clock: FakeClock) -> None:
    breaker = make(
        clock, failure_threshold=1, reset_timeout=10.0, backoff_factor=2.0, max_reset_timeout=35.0
    )
    feed(breaker, CALL, [503])
    opens = [breaker.retry_after(CALL.target)]
    for _ in range(3):
        await clock.advance(opens[-1] or 0.0)
        breaker.allow(CALL).failure(failure(503))
        opens.append(breaker.retry_after(CALL.target))
    assert [o is not None for o in opens] == [True] * 4
    floors = [10.0, 20.0, 35.0, 35.0]
    assert all(f <= o <= min(1.2 * f, 35.0) for o, f in zip(opens, floors, strict=True))  # type: ignore[operator]


async def test_a_longer_retry_after_from_the_provider_is_honoured(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=5.0, max_reset_timeout=120.0)
    breaker.allow(CALL).failure(failure(503, retry_after=60.0))
    assert breaker.retry_after(CALL.target) == pytest.approx(60.0)
    await clock.advance(59.0)
    with pytest.raises(CircuitOpenError):
        breaker.allow(CALL)


async def test_an_answered_probe_even_a_429_proves_the_provider_is_up(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=1.0)
    feed(breaker, CALL, [503])
    await clock.advance(1.2)
    breaker.allow(CALL).failure(failure(429))
    assert breaker.state(CALL.target) == "closed"


async def test_a_cancelled_probe_frees_its_slot_without_a_verdict(clock: FakeClock) -> None:
    gate = asyncio.Event()

    async def handler(call: Call) -> str:
        await gate.wait()
        return "ok"

    breaker = make(clock, failure_threshold=1, reset_timeout=1.0)
    feed(breaker, CALL, [503])
    await clock.advance(1.2)
    task = asyncio.create_task(breaker(CALL, handler))
    await clock.settle()
    with pytest.raises(CircuitOpenError):
        breaker.allow(CALL)  # the slot is taken by the task
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.state(CALL.target) == "half-open"
    breaker.allow(CALL).success()  # the slot is free again
    assert breaker.state(CALL.target) == "closed"


async def test_a_late_result_from_before_the_trip_does_not_close_it(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=2, reset_timeout=1.0)
    early = breaker.allow(CALL)
    feed(breaker, CALL, [503, 503])
    await clock.advance(1.2)
    assert breaker.state(CALL.target) == "half-open"
    early.success()
    assert breaker.state(CALL.target) == "half-open"


async def test_a_dead_model_does_not_block_the_providers_other_models(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=3)
    feed(breaker, CALL, [503] * 3)
    assert breaker.state(CALL.target) == "open"
    assert breaker.state("openai") == "closed"
    feed(breaker, OTHER, [None, 503, None])
    assert breaker.state(OTHER.target) == "closed"


async def test_two_models_tripping_open_the_provider_for_every_model(clock: FakeClock) -> None:
    events: list[Event] = []
    breaker = make(clock, failure_threshold=3, hooks=[events.append])
    feed(breaker, CALL, [503] * 3)
    await clock.advance(5.0)
    feed(breaker, OTHER, [502] * 3)
    assert breaker.state("openai") == "open"
    with pytest.raises(CircuitOpenError) as info:
        breaker.allow(THIRD)
    assert info.value.key == "openai"
    keys = [e.key for e in events if isinstance(e, BreakerStateChange)]
    assert keys == [CALL.target, OTHER.target, "openai"]


async def test_model_trips_far_apart_do_not_open_the_provider(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, window=30.0)
    feed(breaker, CALL, [503])
    await clock.advance(31.0)
    feed(breaker, OTHER, [503])
    assert breaker.state("openai") == "closed"


async def test_provider_half_open_probe_closes_it(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=10.0, max_reset_timeout=10.0)
    feed(breaker, CALL, [503])
    feed(breaker, OTHER, [503])
    await clock.advance(10.0)
    probe = breaker.allow(THIRD)
    with pytest.raises(CircuitOpenError) as info:
        breaker.allow(THIRD)
    assert info.value.key == "openai"
    probe.success()
    assert breaker.state("openai") == "closed"


async def test_per_model_false_keeps_one_breaker_per_provider(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=2, per_model=False)
    feed(breaker, CALL, [503])
    feed(breaker, OTHER, [503])
    with pytest.raises(CircuitOpenError) as info:
        breaker.allow(THIRD)
    assert info.value.key == "openai"


async def test_permit_is_idempotent_and_awaitable(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1)
    permit = await breaker.allow(CALL)
    permit.success()
    permit.failure(failure(503))  # ignored: already reported
    permit.cancel()
    assert permit.done
    assert breaker.state(CALL.target) == "closed"


async def test_a_streamed_probe_closes_the_circuit_when_its_stream_ends_cleanly(
    clock: FakeClock,
) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=1.0)
    feed(breaker, CALL, [503])
    await clock.advance(1.2)

    async def chunks() -> AsyncIterator[str]:
        yield "a"
        yield "b"

    async def handler(call: Call) -> AsyncIterator[str]:
        return chunks()

    stream = Pipeline(breaker, clock=clock).stream(handler, CALL)
    assert await stream.__anext__() == "a"
    assert breaker.state(CALL.target) == "half-open"  # the verdict waits for the end
    assert [c async for c in stream] == ["b"]
    assert breaker.state(CALL.target) == "closed"


async def test_a_stream_that_breaks_after_its_first_chunk_counts_as_a_failure(
    clock: FakeClock,
) -> None:
    breaker = make(clock, failure_threshold=2)

    class Gateway(Exception):
        status_code = 502

    async def chunks() -> AsyncIterator[str]:
        yield "a"
        raise Gateway("bad gateway")

    async def handler(call: Call) -> AsyncIterator[str]:
        return chunks()

    pipeline = Pipeline(breaker, clock=clock)
    for _ in range(2):
        with pytest.raises(ProviderError):
            async for _chunk in pipeline.stream(handler, CALL):
                pass
    assert breaker.state(CALL.target) == "open"


async def test_listeners_hear_every_change_and_a_failing_one_is_ignored(clock: FakeClock) -> None:
    heard: list[tuple[str, str, str]] = []
    events: list[BreakerStateChange] = []

    class Listener:
        def on_state_change(self, key: str, old: str, new: str) -> None:
            heard.append((key, old, new))

    def broken(event: BreakerStateChange) -> None:
        raise RuntimeError("listener bug")

    breaker = make(
        clock,
        failure_threshold=1,
        reset_timeout=1.0,
        listeners=[broken, Listener(), events.append],
    )
    feed(breaker, CALL, [503])
    await clock.advance(1.2)
    breaker.allow(CALL).success()
    assert heard == [
        (CALL.target, "closed", "open"),
        (CALL.target, "open", "half-open"),
        (CALL.target, "half-open", "closed"),
    ]
    assert [e.new for e in events] == ["open", "half-open", "closed"]
    assert events[0].failure is not None and events[0].failure.status == 503


async def test_a_trip_written_to_a_shared_store_is_taken_over(clock: FakeClock) -> None:
    """Two breakers (two workers) on one store: one trips, the other rejects."""
    store = MemoryBreakerStore()
    heard: list[BreakerStateChange] = []
    first = make(clock, failure_threshold=1, store=store)
    second = make(clock, failure_threshold=1, store=store, listeners=[heard.append])
    second.allow(CALL).success()
    feed(first, CALL, [503])
    with pytest.raises(CircuitOpenError):
        second.allow(CALL)
    assert [(e.old, e.new) for e in heard] == [("closed", "open")]


async def test_records_keep_pybreakers_storage_names() -> None:
    rec = BreakerRecord()
    rec.increment_counter()
    rec.increment_success_counter()
    assert (rec.state, rec.counter, rec.success_counter, rec.opened_at) == ("closed", 1, 1, None)
    rec.reset_counter()
    rec.reset_success_counter()
    assert (rec.counter, rec.success_counter) == (0, 0)


async def test_reset_closes_by_hand(clock: FakeClock) -> None:
    breaker = make(clock, failure_threshold=1)
    feed(breaker, CALL, [503])
    breaker.reset(CALL.target)
    assert breaker.state(CALL.target) == "closed"
    breaker.allow(CALL).success()


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("failure_threshold", {"failure_threshold": 0}),
        ("failure_rate", {"failure_rate": 1.5}),
        ("failure_rate", {"failure_rate": 0}),
        ("window", {"window": -1}),
        ("min_calls", {"min_calls": 0}),
        ("reset_timeout", {"reset_timeout": float("nan")}),
        ("max_reset_timeout", {"reset_timeout": 10.0, "max_reset_timeout": 5.0}),
        ("backoff_factor", {"backoff_factor": 0.5}),
        ("half_open_probes", {"half_open_probes": 0}),
        ("store", {"store": {}}),
        ("listeners[0]", {"listeners": [42]}),
        ("hooks", {"hooks": [42]}),
    ],
)
def test_bad_settings_are_config_errors(field: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        CircuitBreaker(**kwargs)
    assert info.value.field == field


# -- the state machine, explored -------------------------------------------------

MODELS = ("m0", "m1", "m2")
STATUSES = (None, None, 503, 503, 500, 429, 400)


def scenario(rnd: random.Random, length: int) -> list[tuple[Any, ...]]:
    """A weighted random run of operations: calls that finish at once, calls
    held in flight, outcomes for held calls, cancellations, time passing.
    (Plain lists of ops from Hypothesis rarely got past the first trip.)"""
    ops: list[tuple[Any, ...]] = []
    for _ in range(length):
        kind = rnd.choices(
            ["call", "hold", "finish", "cancel", "advance"], weights=[4, 3, 3, 1, 2]
        )[0]
        if kind == "call":
            ops.append((kind, rnd.choice(MODELS), rnd.choice(STATUSES)))
        elif kind == "hold":
            ops.append((kind, rnd.choice(MODELS)))
        elif kind == "finish":
            ops.append((kind, rnd.randrange(50), rnd.choice(STATUSES)))
        elif kind == "cancel":
            ops.append((kind, rnd.randrange(50)))
        else:
            ops.append((kind, rnd.choice([0.0, 0.5, 1.0, 3.0, 6.0, 13.0, rnd.uniform(0, 8)])))
    return ops


class Flight:
    """One call in flight, held inside its handler until told to finish."""

    def __init__(self, call: Call) -> None:
        self.call = call
        self.outcome: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self.probe_generations: dict[str, int] = {}
        self.task: asyncio.Task[Any] | None = None


async def explore(ops: list[tuple[Any, ...]], probes: int, threshold: int, per_model: bool) -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(
        failure_threshold=threshold,
        min_calls=4,
        window=10.0,
        reset_timeout=3.0,
        max_reset_timeout=12.0,
        half_open_probes=probes,
        per_model=per_model,
        clock=clock,
        random=random.Random(1),
    )
    flights: list[Flight] = []
    tasks: list[asyncio.Task[Any]] = []
    tripping_seen = False

    def make_handler(flight: Flight) -> Any:
        async def handler(call: Call) -> str:
            for key in breaker.keys_for(call):
                loc = breaker._local[key]
                if breaker.store.record(key).state == "half-open":
                    flight.probe_generations[key] = loc.generation
            flights.append(flight)
            status = await flight.outcome
            if status is None:
                return "ok"
            raise ProviderError(failure(status), call=call)

        return handler

    def check() -> None:
        for key, loc in breaker._local.items():
            assert 0 <= loc.probes <= probes, (key, loc.probes)
            in_flight = sum(
                1
                for f in flights
                if not f.outcome.done() and f.probe_generations.get(key) == loc.generation
            )
            assert in_flight == loc.probes, (key, in_flight, loc.probes)
        if not tripping_seen:
            assert all(breaker.store.record(k).state == "closed" for k in breaker._local)

    for step in ops:
        if step[0] in ("call", "hold"):
            flight = Flight(Call(provider="p", model=step[1]))
            flight.task = asyncio.ensure_future(breaker(flight.call, make_handler(flight)))
            tasks.append(flight.task)
            if step[0] == "call":
                await clock.settle()
                check()
                if not flight.task.done():
                    flight.outcome.set_result(step[2])
                    tripping_seen |= step[2] in (503, 500)
        elif step[0] == "finish":
            live = [f for f in flights if not f.outcome.done()]
            if live:
                target = live[step[1] % len(live)]
                target.outcome.set_result(step[2])
                tripping_seen |= step[2] in (503, 500)
        elif step[0] == "cancel":
            live = [f for f in flights if not f.outcome.done()]
            if live:
                target = live[step[1] % len(live)]
                assert target.task is not None
                target.task.cancel()
                target.outcome.cancel()
        else:
            await clock.advance(step[1])
        await clock.settle()
        check()

    for f in flights:
        if not f.outcome.done():
            f.outcome.set_result(None)
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:  # every call ended: a result or an error
        assert task.done()
        if task.cancelled():
            continue
        error = task.exception()
        assert error is None or isinstance(error, ProviderError | CircuitOpenError)
    assert all(loc.probes == 0 for loc in breaker._local.values())


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    rnd=st.randoms(use_true_random=False),
    length=st.integers(5, 120),
    probes=st.integers(1, 3),
    threshold=st.integers(1, 4),
    per_model=st.booleans(),
)
def test_state_machine_keeps_its_promises(
    rnd: random.Random, length: int, probes: int, threshold: int, per_model: bool
) -> None:
    """Random starts, outcomes, cancellations and time: never more probes in
    flight than allowed, every slot freed, every call ends, and no trip from
    429s and 400s alone."""
    asyncio.run(explore(scenario(rnd, length), probes, threshold, per_model))


async def test_probes_come_every_reset_timeout_for_as_long_as_the_target_fails(
    clock: FakeClock,
) -> None:
    """No growth by default: every open period is reset_timeout plus at most
    20% jitter, never shorter, however many probes failed."""
    breaker = make(clock, failure_threshold=1, reset_timeout=2.0, random=random.Random(7))
    feed(breaker, CALL, [503])
    opens = []
    for _ in range(6):
        wait = breaker.retry_after(CALL.target)
        assert wait is not None
        opens.append(wait)
        await clock.advance(wait)
        breaker.allow(CALL).failure(failure(503))
    assert all(2.0 <= o <= 2.4 for o in opens)


async def test_a_target_that_heals_is_back_within_reset_timeout_and_its_jitter(
    clock: FakeClock,
) -> None:
    breaker = make(clock, failure_threshold=1, reset_timeout=2.0)
    feed(breaker, CALL, [503])
    healed_at = 1.0  # the provider heals while the circuit is open
    await clock.advance(healed_at)
    while True:
        try:
            breaker.allow(CALL).success()
            break
        except CircuitOpenError:
            await clock.advance(0.05)
    assert clock.monotonic() - healed_at <= 2.0 * 1.2


def test_growth_is_opt_in_and_bounded_by_default_to_twice_reset_timeout() -> None:
    breaker = CircuitBreaker(reset_timeout=3.0)
    assert breaker.backoff_factor == 1.0
    assert breaker.max_reset_timeout == 6.0
    assert CircuitBreaker(reset_timeout=3.0, backoff_factor=2.0).max_reset_timeout == 6.0
