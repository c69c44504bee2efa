"""RedisStore's limiter half and its link against a real redis-server, in one process.

Two stores on two clients stand for two worker processes (the multi-process
tests are in ``test_redis_multiprocess.py``). The scripts measure time on the
server, so bucket assertions use intervals long enough (a second or more)
that the milliseconds the test takes cannot change an outcome.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as redis

import resilience.store
from resilience._breaker import CircuitBreaker
from resilience._core.call import Call
from resilience._core.clock import FakeClock
from resilience._core.errors import ConfigError
from resilience._core.failure import Failure, Kind
from resilience._limiter import Limit, RateLimiter
from resilience._redis.scripts import LIM_RESERVE
from resilience._redis.store import RedisStore
from resilience._store.gcra import MAX_DEBT
from resilience._store.limiter import MemoryStore, Rates
from resilience.store import BreakerStore, LimiterStore
from tests.store._redis import RedisServer
from tests.store._support import reconnect, redis_warnings, until

NOW = 1000.0  # the caller's clock reading; the scripts use the server's
TRIP = Call(provider="openai", model="gpt-4o")
DOWN = Failure.of(Kind.SERVER, status=500)


# -- the public module and configuration ----------------------------------------------------------


def test_store_module_exports_protocols_memory_stores_and_redis() -> None:
    assert resilience.store.RedisStore is RedisStore
    assert isinstance(resilience.store.MemoryStore(), LimiterStore)
    assert isinstance(resilience.store.MemoryBreakerStore(), BreakerStore)
    with pytest.raises(AttributeError):
        resilience.store.Nope  # type: ignore[attr-defined]  # noqa: B018


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"prefix": ""}, "prefix"),
        ({"ttl": 0}, "ttl"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": math.inf}, "timeout"),
        ({"local_share": 0}, "local_share"),
        ({"local_share": 1.5}, "local_share"),
        ({"backoff": 2.0, "max_backoff": 1.0}, "max_backoff"),
        ({"breaker_refresh": True}, "breaker_refresh"),
    ],
)
def test_bad_settings_name_field_and_value(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigError) as err:
        RedisStore(redis.Redis(), **kwargs)
    assert err.value.field == field


def test_a_client_that_is_not_asyncio_redis_is_refused() -> None:
    import redis as sync_redis

    with pytest.raises(ConfigError, match="client"):
        RedisStore(object())
    with pytest.raises(ConfigError, match=r"redis\.asyncio"):
        RedisStore(sync_redis.Redis())  # would block the loop


def test_one_store_serves_both_limiter_and_breaker() -> None:
    store = RedisStore(redis.Redis())
    assert isinstance(store, LimiterStore)
    assert isinstance(store, BreakerStore)


# -- limiter buckets ------------------------------------------------------------------


async def test_two_stores_draw_on_one_bucket(make: Callable[..., RedisStore]) -> None:
    """Capacity 3 at one request a minute: three admissions in total, not per store."""
    a, b = make(), make()
    rates = Rates(60.0, 3.0)
    grants = [await s.reserve("openai", NOW, 0.0, rates) for s in (a, b, a, b, a)]
    assert [g.admitted for g in grants] == [True, True, True, False, False]
    refused = grants[3]
    assert refused.binding == "requests"
    # The next request fits once one drains: a minute minus what the test took.
    assert NOW + 59.0 < refused.start <= NOW + 60.0


async def test_scripts_mirror_the_memory_store(make: Callable[..., RedisStore]) -> None:
    """The same operations give the same answers from Redis and from memory
    (admission, binding dimension, start delay, refunds, debt)."""
    store, mem = make(), MemoryStore()
    rates = Rates(2.0, 2.0, 0.01, 400.0)  # 30 rpm burst 2; 6000 tpm, 400 tokens
    script: list[tuple[str, Any]] = [
        ("reserve", (150.0, 0.0, 0.0)),
        ("reserve", (150.0, 0.0, 0.0)),
        ("reserve", (150.0, 0.0, 0.0)),  # tokens: 300 in, 150 more do not fit in 400
        ("reserve", (10.0, 3.0, 500.0)),  # an estimate behind a queue takes nothing
        ("refund", 100.0),
        ("reserve", (150.0, 0.0, 0.0)),  # requests: two already went
        ("charge", 1e9),  # garbage usage: debt capped at MAX_DEBT
        ("reserve", (1.0, 0.0, 0.0)),
    ]
    marks: list[float] = []
    mem_marks: list[float] = []
    for op, arg in script:
        if op == "reserve":
            got = await store.reserve("k", NOW, arg[0], rates, arg[1], arg[2])
            want = mem.reserve_now("k", NOW, arg[0], rates, arg[1], arg[2])
            assert (got.admitted, got.binding) == (want.admitted, want.binding), (op, arg)
            assert got.start == pytest.approx(want.start, abs=0.05)
            if got.admitted:
                marks.append(got.mark)
                mem_marks.append(want.mark)
        elif op == "refund":
            await store.adjust("k", NOW, -arg, rates, marks[-1])
            mem.adjust_now("k", NOW, -arg, rates, mem_marks[-1])
        else:
            await store.adjust("k", NOW, arg, rates, 0.0)
            mem.adjust_now("k", NOW, arg, rates, 0.0)
    # In debt by MAX_DEBT seconds of tokens: a 1-token call waits until the
    # bucket drained to capacity - 1 token.
    last = await store.reserve("k", NOW, 1.0, rates)
    assert last.binding == "tokens"
    assert last.start == pytest.approx(NOW + MAX_DEBT - 399 * 0.01, abs=0.05)
    assert last.start == pytest.approx(mem.reserve_now("k", NOW, 1.0, rates).start, abs=0.05)


@pytest.mark.parametrize(
    ("asked_at", "next_start"),
    [
        (NOW, NOW + 10.0),  # on time
        (NOW - 0.04, NOW + 9.96),  # 40 ms late: charged from then
        (NOW - 0.5, NOW + 9.95),  # later than MAX_BACKDATE: forgiven 50 ms only
        (NOW + 5.0, NOW + 15.0),  # a clock that is not the store's: taken as is
    ],
)
async def test_a_late_caller_is_charged_from_when_it_was_due(
    make: Callable[..., RedisStore], asked_at: float, next_start: float
) -> None:
    """The limiter asks "as of" the moment the store named when its timer
    fired late; the slot is charged from then, so lateness does not slow the
    shared schedule (bounded at 50 ms)."""
    store = make(clock=FakeClock(NOW))
    rates = Rates(10.0, 1.0)
    assert (await store.reserve("k", asked_at, 0.0, rates)).admitted
    refused = await store.reserve("k", asked_at if asked_at > NOW else NOW, 0.0, rates)
    assert not refused.admitted
    assert refused.start == pytest.approx(next_start, abs=0.02)


async def test_provider_counts_and_pushback_reach_every_store(
    make: Callable[..., RedisStore],
) -> None:
    a, b = make(clock=FakeClock(NOW)), make(clock=FakeClock(NOW))
    rates = Rates(1.0, 5.0)
    await a.sync("k", NOW, rates, requests_remaining=0.0)
    refused = await b.reserve("k", NOW, 0.0, rates)
    assert (refused.admitted, refused.binding) == (False, "requests")
    # The provider says the bucket is full: the next request fits once one drains.
    assert refused.start == pytest.approx(NOW + 1.0, abs=0.05)
    held = await a.hold("k2", NOW + 30.0)
    assert held == pytest.approx(NOW + 30.0, abs=0.05)
    refused = await b.reserve("k2", NOW, 0.0, rates)
    assert (refused.admitted, refused.binding) == (False, "pushback")
    assert refused.start == pytest.approx(NOW + 30.0, abs=0.05)


async def test_every_key_is_namespaced_and_expires(
    make: Callable[..., RedisStore], client: redis.Redis
) -> None:
    """Nothing the store writes lives forever: each key carries a TTL of
    ``ttl`` plus the time its state stays meaningful (drain, open period)."""
    store = make(prefix="app1", ttl=30.0, clock=FakeClock(NOW))
    rates = Rates(10.0, 1.0, 0.01, 100.0)
    await store.reserve("openai/gpt-4o", NOW, 50.0, rates)
    await store.hold("anthropic", NOW + 20.0)
    breaker_rec = store.record("openai")
    breaker_rec.state, breaker_rec.open_until, breaker_rec.trips = "open", NOW + 100.0, 1
    store.saved("openai", breaker_rec, NOW)
    await until(lambda: store._breakers._entries["openai"].version == 1, "the trip to land")
    keys = sorted([k.decode() async for k in client.scan_iter("*")])
    assert keys == [
        "app1:brk:openai",
        "app1:lim:anthropic",
        "app1:lim:openai/gpt-4o",
        "app1:workers",
    ]
    ttl = {k: await client.pttl(k) / 1000.0 for k in keys}
    assert 30.0 < ttl["app1:lim:openai/gpt-4o"] <= 40.0  # ttl + 10 s until drained
    assert 49.0 < ttl["app1:lim:anthropic"] <= 50.0  # ttl + the 20 s hold
    assert 129.0 < ttl["app1:brk:openai"] <= 130.0  # ttl + the 100 s open period
    assert 0.0 < ttl["app1:workers"] <= 40.0


async def test_a_flushed_script_cache_costs_one_eval_not_an_outage(
    make: Callable[..., RedisStore], client: redis.Redis
) -> None:
    store = make()
    rates = Rates(60.0, 2.0)
    assert (await store.reserve("k", NOW, 0.0, rates)).admitted
    await client.script_flush()
    assert (await store.reserve("k", NOW, 0.0, rates)).admitted
    assert not (await store.reserve("k", NOW, 0.0, rates)).admitted
    assert store.healthy and store.outages == 0
    assert await client.script_exists(LIM_RESERVE.sha) == [True]  # cached again by EVAL


# -- Redis down, slow, back ------------------------------------------------------------------------


async def test_outage_local_share_one_warning_then_shared_again(
    make: Callable[..., RedisStore],
    redis_server: RedisServer,
    client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis dies: every call still gets an answer, from a local bucket at
    ``local_share`` of the limit, with one warning for the whole outage.
    Redis returns: after the backoff (on the injected clock) state is shared
    again."""
    caplog.set_level(logging.INFO, logger="resilience")
    clock = FakeClock(NOW)
    store = make(clock=clock, local_share=0.5, timeout=0.2, backoff=1.0, max_backoff=4.0)
    rates = Rates(60.0, 4.0)
    assert (await store.reserve("k", NOW, 0.0, rates)).admitted
    redis_server.kill()
    grants = [await store.reserve("k", NOW, 0.0, rates) for _ in range(10)]
    # Half of a burst of 4 locally: the one admitted before is Redis's own.
    assert sum(g.admitted for g in grants) == 2
    assert not store.healthy and store.outages == 1
    assert len(redis_warnings(caplog)) == 1
    await clock.advance(1.0)  # a reconnection attempt fails: Redis is still down
    await asyncio.sleep(0.3)
    assert not store.healthy
    redis_server.start()
    for _ in range(20):  # the next attempts, on the fake clock, until one lands
        await clock.advance(4.0)
        await asyncio.sleep(0.05)
        if store.healthy:
            break
    assert store.healthy
    assert len(redis_warnings(caplog)) == 1
    assert any("reachable again" in r.getMessage() for r in caplog.records)
    # Shared again: the restarted (empty) server holds the bucket now.
    assert (await store.reserve("k", NOW, 0.0, rates)).admitted
    fresh = redis.Redis.from_url(redis_server.url)
    try:
        assert await fresh.exists("t:lim:k")
    finally:
        await fresh.aclose()


async def test_the_first_process_back_takes_only_its_part(
    make: Callable[..., RedisStore], redis_server: RedisServer
) -> None:
    """Four processes share a burst of 4 at 1/s. Redis restarts (empty); the
    first one back finds itself alone in the worker set while the three
    others still take their local quarter, so it asks Redis for a quarter
    too; the second one back makes it a half."""
    clocks = [FakeClock(NOW) for _ in range(4)]
    stores = [make(clock=c, timeout=0.2, backoff=0.5, max_backoff=0.5) for c in clocks]
    rates = Rates(1.0, 4.0)
    for s in [*stores, *stores]:  # the second round sees all four registered
        await s.reserve("k", NOW, 0.0, rates)
    assert [s.workers for s in stores] == [4, 4, 4, 4]
    redis_server.kill()
    for s in stores:
        await s.reserve("k", NOW, 0.0, rates)
        assert not s.healthy and s.share == 0.25
    redis_server.start()
    a, b = stores[0], stores[1]
    await reconnect(a, clocks[0])
    now = clocks[0].monotonic()
    first = await a.reserve("k", now, 0.0, rates)
    second = await a.reserve("k", now, 0.0, rates)
    assert first.admitted and not second.admitted
    assert second.start == pytest.approx(now + 4.0, abs=0.05)  # a quarter of 1/s
    await reconnect(b, clocks[1])
    await b.reserve("k", clocks[1].monotonic(), 0.0, rates)  # registers: two are back
    await a.reserve("k2", now, 0.0, rates)  # its reply tells A that two are back
    assert a.workers == 4  # the count from before the outage holds meanwhile
    grants = [await a.reserve("k3", now, 0.0, rates) for _ in range(3)]
    assert [g.admitted for g in grants] == [True, True, False]  # half the burst of 4
    assert grants[2].start == pytest.approx(now + 2.0, abs=0.05)  # at half of 1/s


async def test_a_stalled_redis_costs_a_timeout_not_a_stalled_call(
    make: Callable[..., RedisStore], redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """CLIENT PAUSE stalls every other client: each call still gets its
    answer (from local state) once ``timeout`` passes. One late reply is a
    hiccup; a second in a row is an outage (one warning), after which calls
    no longer wait on Redis at all."""
    store = make(timeout=0.1, local_share=1.0, clock=FakeClock(NOW))
    rates = Rates(60.0, 1.0)
    pauser = redis.Redis.from_url(redis_server.url)
    try:
        assert (await store.reserve("k", NOW, 0.0, rates)).admitted
        await pauser.execute_command("CLIENT", "PAUSE", "500", "ALL")
        assert (await store.reserve("a", NOW, 0.0, rates)).admitted  # locally
        assert store.healthy and not redis_warnings(caplog)
        assert (await store.reserve("b", NOW, 0.0, rates)).admitted  # locally
        assert not store.healthy and len(redis_warnings(caplog)) == 1
        commands = len(store.link._commands)
        assert (await store.reserve("c", NOW, 0.0, rates)).admitted
        assert len(store.link._commands) == commands  # not even tried
    finally:
        await pauser.execute_command("CLIENT", "UNPAUSE")
        await pauser.aclose()


async def test_callers_cancelled_mid_command_always_end(make: Callable[..., RedisStore]) -> None:
    """redis.asyncio can swallow a cancellation that lands mid-command
    (redis/redis-py#2028); queued limiter callers cancelled at random
    moments must all end anyway."""
    rng = random.Random(7)
    for round_ in range(15):
        store = make(prefix=f"c{round_}")
        limiter = RateLimiter(Limit(rpm=1200, burst=2), adaptive=False, store=store)

        async def caller(lim: RateLimiter = limiter) -> None:
            while True:
                await lim(Call(provider="p", model="m"), _ok)

        tasks = [asyncio.create_task(caller()) for _ in range(10)]
        await asyncio.sleep(rng.random() * 0.05)
        for t in tasks:
            t.cancel()
        _, pending = await asyncio.wait(tasks, timeout=3.0)
        assert not pending, f"round {round_}: {len(pending)} callers never ended"


async def _ok(call: Call) -> str:
    return "ok"


async def test_a_client_decoding_replies_to_str_works_the_same(redis_server: RedisServer) -> None:
    """``decode_responses=True`` turns every reply into str: buckets, saves
    and pub/sub messages still parse."""
    clients = [redis.Redis.from_url(redis_server.url, decode_responses=True) for _ in range(2)]
    a, b = (RedisStore(c, prefix="d") for c in clients)
    try:
        rates = Rates(60.0, 1.0)
        assert (await a.reserve("k", NOW, 0.0, rates)).admitted
        refused = await b.reserve("k", NOW, 0.0, rates)
        assert (refused.admitted, refused.binding) == (False, "requests")
        bb = CircuitBreaker(store=b, failure_threshold=1)
        bb.state(TRIP.target)
        await until(lambda: b._breakers.subscribed, "B to subscribe")
        CircuitBreaker(failure_threshold=1, store=a).allow(TRIP).failure(DOWN)
        await until(lambda: bb.state(TRIP.target) == "open", "B to see the trip")
        assert a.healthy and b.healthy
    finally:
        for s in (a, b):
            await s.aclose()
        for c in clients:
            await c.aclose()
