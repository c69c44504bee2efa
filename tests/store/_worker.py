"""One worker process of the multi-process Redis tests.

Run as ``python -m tests.store._worker MODE URL PREFIX [JSON options]``. It
prints ``ready`` once set up, waits for ``go`` on stdin, and talks in JSON
lines on stdout; the parent (``test_redis_multiprocess.py``) drives it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

import redis.asyncio as redis

from resilience._breaker import CircuitBreaker
from resilience._core.call import Call
from resilience._core.errors import CircuitOpenError
from resilience._core.failure import Failure, Kind
from resilience._core.pipeline import Pipeline
from resilience._limiter import Limit, RateLimiter
from resilience._redis.store import RedisStore

LOAD = Call(provider="fake", model="m1")
TRIP = Call(provider="other", model="m2")


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def say(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


async def read_line() -> str:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return line.strip()


async def handler(call: Call) -> str:
    return "ok"


async def limit_mode(store: RedisStore, opts: dict[str, Any]) -> None:
    """As many calls as possible through a shared limit for ``seconds``."""
    limiter = RateLimiter(Limit(rpm=opts["rpm"], burst=opts["burst"]), adaptive=False, store=store)
    admitted: list[float] = []

    async def counted(call: Call) -> str:
        admitted.append(time.time())
        return "ok"

    async def caller() -> None:
        while True:
            await limiter(LOAD, counted)

    say(event="ready")
    await read_line()
    tasks = [asyncio.create_task(caller()) for _ in range(opts["callers"])]
    await asyncio.sleep(opts["seconds"])
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    say(event="done", admitted=admitted)


async def watch_mode(store: RedisStore, opts: dict[str, Any]) -> None:
    """Trip the breaker (``trip``) or watch for the trip (``watch``)."""
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0, store=store)
    breaker.state(TRIP.target)  # subscribe and read the record before the trip
    while not store._breakers.subscribed:
        await asyncio.sleep(0.005)
    say(event="ready")
    await read_line()
    if opts["role"] == "trip":
        breaker.allow(TRIP).failure(Failure.of(Kind.SERVER, status=500))
        say(event="tripped", at=time.time())
        return
    while True:
        try:
            breaker.allow(TRIP).success()
        except CircuitOpenError:
            say(event="seen", at=time.time())
            return
        await asyncio.sleep(0.002)


async def outage_mode(store: RedisStore, opts: dict[str, Any], warnings: Warnings) -> None:
    """Steady traffic through breaker + limiter while the parent kills and
    restarts Redis; then a trip after the return, seen by the others."""
    breaker = CircuitBreaker(failure_threshold=1, reset_timeout=30.0, store=store)
    limiter = RateLimiter(Limit(rpm=opts["rpm"]), adaptive=False, store=store)
    pipeline = Pipeline(breaker, limiter)
    counts = {"calls": 0, "failed": 0, "after_return": 0}
    errors: list[str] = []
    was_down = False

    async def caller() -> None:
        while True:
            try:
                await pipeline.run(handler, LOAD)
            except Exception as exc:
                counts["failed"] += 1
                errors.append(repr(exc))
            counts["calls"] += 1
            if was_down and store.healthy:
                counts["after_return"] += 1

    async def monitor() -> None:
        nonlocal was_down
        while True:
            if not store.healthy and not was_down:
                was_down = True
                say(event="down", share=store.share)
            if was_down and store.healthy and counts["after_return"] >= 5:
                say(event="resumed")
                return
            await asyncio.sleep(0.01)

    breaker.state(TRIP.target)
    say(event="ready")
    await read_line()
    tasks = [asyncio.create_task(caller()) for _ in range(opts["callers"])]
    watcher = asyncio.create_task(monitor())
    command = await read_line()  # "trip" for one worker, "watch" for the others
    await watcher
    if command == "trip":
        breaker.allow(TRIP).failure(Failure.of(Kind.SERVER, status=500))
        say(event="tripped")
    else:
        while breaker.state(TRIP.target) != "open":
            await asyncio.sleep(0.005)
        say(event="seen")
    await read_line()  # "stop"
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    say(
        event="done",
        **counts,
        errors=errors[:5],
        warnings=[m for m in warnings.messages if "Redis" in m],
        outages=store.outages,
        share=store.share,
    )


async def main() -> None:
    mode, url, prefix = sys.argv[1:4]
    opts: dict[str, Any] = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    warnings = Warnings()
    logging.getLogger("resilience").addHandler(warnings)
    client = redis.Redis.from_url(url)
    store = RedisStore(
        client,
        prefix=prefix,
        backoff=opts.get("backoff", 0.5),
        max_backoff=opts.get("max_backoff", 10.0),
        breaker_refresh=opts.get("breaker_refresh", 1.0),
    )
    try:
        if mode == "limit":
            await limit_mode(store, opts)
        elif mode == "watch":
            await watch_mode(store, opts)
        elif mode == "outage":
            await outage_mode(store, opts, warnings)
        else:
            raise SystemExit(f"unknown mode {mode}")
    finally:
        await store.aclose()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
