"""The breaker half of RedisStore against a real redis-server, in one process.

Two stores on two clients stand for two worker processes: a trip travels by
pub/sub or by the periodic read, saves are optimistic (a trip always lands,
a reset wins, a stale half-open or close loses), and nothing is lost to an
outage or to Redis losing its data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as redis

from resilience._breaker import CircuitBreaker
from resilience._core.call import Call
from resilience._core.clock import FakeClock
from resilience._core.errors import CircuitOpenError
from resilience._core.failure import Failure, Kind
from resilience._redis.scripts import BRK_SAVE
from resilience._redis.store import RedisStore
from resilience._store.limiter import Rates
from tests.store._redis import RedisServer
from tests.store._support import reconnect, until

NOW = 1000.0

TRIP = Call(provider="openai", model="gpt-4o")
DOWN = Failure.of(Kind.SERVER, status=500)


async def test_a_trip_reaches_a_subscribed_process_by_pubsub(
    make: Callable[..., RedisStore],
) -> None:
    """B never re-reads (breaker_refresh=60 s): only the published message can tell it."""
    a, b = make(), make(breaker_refresh=60.0)
    ba = CircuitBreaker(failure_threshold=1, store=a)
    bb = CircuitBreaker(failure_threshold=1, store=b)
    assert bb.state(TRIP.target) == "closed"
    await until(lambda: b._breakers.subscribed, "B to subscribe")
    ba.allow(TRIP).failure(DOWN)
    await until(lambda: bb.state(TRIP.target) == "open", "B to see the trip")
    retry = bb.retry_after(TRIP.target)
    assert retry is not None and 10.0 < retry <= 18.0  # reset_timeout 15 s plus jitter


async def test_a_missed_trip_is_read_on_first_use(make: Callable[..., RedisStore]) -> None:
    a = make()
    CircuitBreaker(failure_threshold=1, store=a).allow(TRIP).failure(DOWN)
    await until(lambda: a._breakers._entries[TRIP.target].version == 1, "the trip to land")
    b = make()  # started after the trip: no message will ever come
    bb = CircuitBreaker(store=b)
    bb.state(TRIP.target)
    await until(lambda: bb.state(TRIP.target) == "open", "the first read")
    with pytest.raises(CircuitOpenError):
        bb.allow(TRIP)


async def test_save_is_optimistic_trips_merge_and_resets_win(
    make: Callable[..., RedisStore],
) -> None:
    store = make()

    async def save(base: int, state: str, open_for: float, trips: int, force: bool = False) -> Any:
        args = (str(base), state, repr(open_for), str(trips), "", "", "1" if force else "0")
        reply = await store.link.eval(BRK_SAVE, ("t:brk:k",), (*args, "900000", "t:brk", "k"))
        return int(reply[0]), int(reply[1]), reply[2].decode(), float(reply[3]), int(reply[4])

    ok, v, st, open_for, trips = await save(0, "open", 30.0, 1)
    assert (ok, v, st, trips) == (1, 1, "open", 1)
    # A half-open built on version 0 lost the race: the stored open comes back.
    ok, v, st, open_for, _ = await save(0, "half-open", 0.0, 1)
    assert (ok, v, st) == (0, 1, "open") and 29.0 < open_for <= 30.0
    # A trip from a stale process still lands, merged: the later end, the most trips.
    ok, v, st, open_for, trips = await save(0, "open", 10.0, 3)
    assert (ok, v, st, trips) == (1, 2, "open", 3) and 29.0 < open_for <= 30.0
    # A stale close loses; a reset by hand wins.
    assert (await save(1, "closed", 0.0, 0))[:3] == (0, 2, "open")
    assert (await save(1, "closed", 0.0, 0, force=True))[:3] == (1, 3, "closed")


async def test_a_trip_during_an_outage_is_stored_when_redis_returns(
    make: Callable[..., RedisStore], redis_server: RedisServer
) -> None:
    """The breaker works on local state while Redis is down (fails open for
    the others, closed for nobody), and its trip is not lost."""
    clock = FakeClock(NOW)
    a = make(clock=clock, timeout=0.2, backoff=1.0, max_backoff=1.0)
    ba = CircuitBreaker(failure_threshold=1, store=a, clock=clock)
    ba.allow(Call(provider="x", model="y")).success()  # subscribe while Redis is up
    redis_server.kill()
    await until(lambda: not a.healthy, "the listener to notice")
    ba.allow(TRIP).failure(DOWN)
    assert ba.state(TRIP.target) == "open"  # locally, at once
    redis_server.start()
    for _ in range(20):
        await clock.advance(1.0)
        await asyncio.sleep(0.05)
        if a.healthy:
            break
    await until(lambda: a._breakers._entries[TRIP.target].version >= 1, "the stored trip")
    b = make()
    bb = CircuitBreaker(store=b)
    bb.state(TRIP.target)
    await until(lambda: bb.state(TRIP.target) == "open", "another process to see it")


async def test_a_trip_lost_with_redis_data_is_stored_again(
    make: Callable[..., RedisStore], client: redis.Redis
) -> None:
    a = make(breaker_refresh=0.0)
    ba = CircuitBreaker(failure_threshold=1, store=a)
    ba.allow(TRIP).failure(DOWN)
    await until(lambda: a._breakers._entries[TRIP.target].version == 1, "the trip to land")
    await client.flushall()  # what a restart without persistence does
    for _ in range(500):
        ba.state(TRIP.target)  # each use re-reads (breaker_refresh=0)
        if await client.hget(f"t:brk:{TRIP.target}", "s") == b"open":
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the open record was not stored again")


async def test_after_an_outage_trips_arrive_by_pubsub_again_at_once(
    make: Callable[..., RedisStore], redis_server: RedisServer
) -> None:
    """After an outage B is subscribed again: B, which never re-reads
    (breaker_refresh=60 s), hears A's next trip by pub/sub. (The store
    subscribes afresh on recovery rather than wait out redis.asyncio's own
    retry backoff, which after outages of several seconds grows to seconds;
    benchmarks/distributed.py shows that case.)"""
    clocks = [FakeClock(NOW), FakeClock(NOW)]
    a, b = (make(clock=c, backoff=0.5, max_backoff=0.5, breaker_refresh=60.0) for c in clocks)
    ba = CircuitBreaker(failure_threshold=1, store=a, clock=clocks[0])
    bb = CircuitBreaker(failure_threshold=1, store=b, clock=clocks[1])
    bb.state(TRIP.target)
    await until(lambda: b._breakers.subscribed, "B to subscribe")
    redis_server.kill()
    for s in (a, b):
        await s.reserve("k", NOW, 0.0, Rates(1.0, 1.0))  # notices the outage
        assert not s.healthy
    redis_server.start()
    await reconnect(a, clocks[0])
    await reconnect(b, clocks[1])
    await until(lambda: b._breakers.subscribed, "B to subscribe again", limit=1.5)
    ba.allow(TRIP).failure(DOWN)
    await until(lambda: bb.state(TRIP.target) == "open", "B to hear the trip", limit=1.5)
