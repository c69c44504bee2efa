"""RedisStore across real worker processes and a real redis-server.

Each worker (``tests/store/_worker.py``) is its own Python process with its
own client, RedisStore, RateLimiter and CircuitBreaker; only Redis is shared.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import redis.asyncio as redis

from tests.store._redis import RedisServer

ROOT = Path(__file__).resolve().parents[2]
STEP = 20.0  # seconds any one exchange with a worker may take before the test fails


class Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, mode: str, url: str, prefix: str, **opts: Any) -> Worker:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.store._worker",
            mode,
            url,
            prefix,
            json.dumps(opts),
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), STEP)
        assert line, f"worker exited early with {await self.proc.wait()}"
        message: dict[str, Any] = json.loads(line)
        return message

    async def expect(self, event: str) -> dict[str, Any]:
        message = await self.read()
        assert message["event"] == event, message
        return message

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")

    async def close(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
        await self.proc.wait()


async def start_all(n: int, mode: str, url: str, prefix: str, **opts: Any) -> list[Worker]:
    workers = [await Worker.start(mode, url, prefix, **opts) for _ in range(n)]
    await asyncio.gather(*(w.expect("ready") for w in workers))
    return workers


async def test_three_processes_share_one_limit(redis_server: RedisServer) -> None:
    """3 processes x 20 callers against a 20/s limit (burst 4) admit what one
    process alone may: at most burst + rate x elapsed in total, where each
    process's own bucket would have let three times that through."""
    rate, burst, seconds = 20.0, 4, 1.5
    prefix = f"mp-{uuid.uuid4().hex[:6]}"
    workers = await start_all(
        3,
        "limit",
        redis_server.url,
        prefix,
        rpm=rate * 60,
        burst=burst,
        callers=20,
        seconds=seconds,
    )
    try:
        for w in workers:
            w.send("go")
        done = await asyncio.gather(*(w.expect("done") for w in workers))
    finally:
        for w in workers:
            await w.close()
    stamps = sorted(t for d in done for t in d["admitted"])
    span = stamps[-1] - stamps[0]
    allowed = burst + rate * span
    assert len(stamps) <= allowed + 2, (len(stamps), allowed)
    # And the limit is used, not starved: every process got a part of it.
    assert len(stamps) >= 0.6 * rate * span
    assert all(d["admitted"] for d in done)


async def test_a_trip_in_one_process_is_seen_by_the_others(redis_server: RedisServer) -> None:
    """One worker trips its breaker; the two others reject calls to that
    model well within the bound (pub/sub delivers in milliseconds; the
    periodic read bounds it at breaker_refresh)."""
    prefix = f"mp-{uuid.uuid4().hex[:6]}"
    url = redis_server.url
    tripper = await Worker.start("watch", url, prefix, role="trip", breaker_refresh=1.0)
    watchers = [await Worker.start("watch", url, prefix, role="watch") for _ in range(2)]
    everyone = [tripper, *watchers]
    try:
        await asyncio.gather(*(w.expect("ready") for w in everyone))
        for w in watchers:
            w.send("go")
        tripper.send("go")
        tripped = await tripper.expect("tripped")
        seen = await asyncio.gather(*(w.expect("seen") for w in watchers))
    finally:
        for w in everyone:
            await w.close()
    delays = [s["at"] - tripped["at"] for s in seen]
    assert all(d < 1.0 + 0.5 for d in delays), delays


async def test_redis_outage_and_return(redis_server: RedisServer) -> None:
    """Kill Redis under steady traffic from 3 processes and bring it back on
    the same port: no call fails, each process logs exactly one warning,
    and afterwards state is shared again (a trip in one process reaches the
    others, and the limiter's key is back in Redis with a TTL)."""
    prefix = f"mp-{uuid.uuid4().hex[:6]}"
    workers = await start_all(
        3, "outage", redis_server.url, prefix, rpm=3000, callers=5, backoff=0.1, max_backoff=0.4
    )
    try:
        for w in workers:
            w.send("go")
        await asyncio.sleep(0.3)  # traffic flowing on shared state
        redis_server.kill()
        down = await asyncio.gather(*(w.expect("down") for w in workers))
        redis_server.start()
        workers[0].send("trip")
        for w in workers[1:]:
            w.send("watch")
        await asyncio.gather(*(w.expect("resumed") for w in workers))
        await workers[0].expect("tripped")
        await asyncio.gather(*(w.expect("seen") for w in workers[1:]))
        for w in workers:
            w.send("stop")
        done = await asyncio.gather(*(w.expect("done") for w in workers))
    finally:
        for w in workers:
            await w.close()
    for d in done:
        assert d["failed"] == 0, d["errors"]
        assert d["calls"] > 0 and d["after_return"] > 0
        assert d["outages"] == 1
        assert len(d["warnings"]) == 1, d["warnings"]
        assert abs(d["share"] - 1 / 3) < 1e-9  # the count survives the restart
    # While Redis was down each took a third of the limit, not all of it.
    assert [round(d["share"], 6) for d in down] == [round(1 / 3, 6)] * 3
    client = redis.Redis.from_url(redis_server.url)
    try:
        assert await client.exists(f"{prefix}:lim:fake")
        assert await client.pttl(f"{prefix}:lim:fake") > 0
        assert await client.pttl(f"{prefix}:brk:other/m2") > 0
    finally:
        await client.aclose()
