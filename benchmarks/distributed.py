"""Many worker processes, one provider limit: what sharing state through Redis buys.

Four worker processes, fifty concurrent callers each, call a ``FakeProvider``
(40 requests/s per API key and model: ``rpm=2400``, run by the parent) with
the real ``openai`` SDK wrapped by ``resilience.adapters.openai``, through
``Pipeline(CircuitBreaker, RateLimiter)``. The same run compares:

- ``memory, full limit``: each process has its own in-memory bucket at the
  provider's limit (what you get without shared state);
- ``memory, limit / 4``: each process has a quarter of it (a static split:
  right only while exactly four equally busy processes run);
- ``redis``: one bucket in Redis (``RedisStore``) at the provider's limit;
- ``redis, killed mid-run``: the same, with redis-server killed at 30% of the
  run and restarted (empty, same port) at 60%.

Rates are counted on the provider's side (answers with status 200 per second
in the steady part of each run); 429s are the provider's refusals; failed
calls are exceptions the callers saw. Then the breaker: one process trips
its breaker on a model the provider fails with 503s, and the others poll
their own breaker's state; the delay is wall-clock time (same machine) from
the tripping process's state change to each other process seeing ``open``.

    python -m benchmarks.distributed [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import emit

WORKERS = 4
CALLERS = 50
RPM = 2400  # 40 requests/s: the provider's limit and the configured one
BURST = 4
MODEL = "gpt-4o-mini"
ROOT = Path(__file__).resolve().parents[1]

SCENARIOS = [
    # (name, store, rpm per process)
    ("memory, full limit", "memory", RPM),
    ("memory, limit / 4", "memory", RPM // WORKERS),
    ("redis", "redis", RPM),
    ("redis, killed mid-run", "redis", RPM),
]


# -- the parent ------------------------------------------------------------------------


class _Redis:
    def __init__(self, directory: str) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise SystemExit("distributed: redis-server not found (apt-get install redis-server)")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.args = [binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        self.args += ["--save", "", "--appendonly", "no", "--dir", directory]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL)
        end = time.monotonic() + 10.0
        while time.monotonic() < end:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, **command: Any) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command).encode() + b"\n")
        await self.proc.stdin.drain()

    async def answer(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 120)
        if not line:
            raise RuntimeError(f"a worker exited with {await self.proc.wait()}")
        reply: dict[str, Any] = json.loads(line)
        return reply


async def _rate(
    fp: Any, workers: list[_Worker], redis: _Redis, name: str, store: str, rpm: int, seconds: float
) -> dict[str, Any]:
    kill = name.endswith("killed mid-run")
    t0 = fp.now()
    for w in workers:
        await w.ask(phase="rate", store=store, rpm=rpm, burst=BURST, seconds=seconds)
    killed_at = restarted_at = None
    if kill:
        await asyncio.sleep(seconds * 0.3)
        redis.kill()
        killed_at = fp.now()
        await asyncio.sleep(seconds * 0.3)
        redis.start()
        restarted_at = fp.now()
    replies = [await w.answer() for w in workers]
    t1 = t0 + seconds
    # The steady part: past the first callers' start-up, before the stop.
    lo, hi = t0 + min(1.0, seconds * 0.2), t1 - 0.1
    recs = [r for r in fp.requests if r.model == MODEL and t0 <= r.time <= t1 + 1.0]
    steady_ok = sum(1 for r in recs if r.status == 200 and lo <= r.time <= hi)
    rate = steady_ok / (hi - lo)
    refused = sum(1 for r in recs if r.status == 429)
    row: dict[str, Any] = {
        "scenario": name,
        "rate_rps": rate,
        "vs_limit_pct": 100.0 * (rate - RPM / 60.0) / (RPM / 60.0),
        "rate_while_down_rps": "-",
        "requests": len(recs),
        "429s": refused,
        "429_pct": 100.0 * refused / max(1, len(recs)),
        "calls_ok": sum(r["ok"] for r in replies),
        "calls_failed": sum(sum(r["failed"].values()) for r in replies),
        "redis_warnings": sum(r["warnings"] for r in replies),
    }
    if killed_at is not None and restarted_at is not None:
        down_lo = killed_at + 0.3
        ok = sum(1 for r in recs if r.status == 200 and down_lo <= r.time <= restarted_at)
        row["rate_while_down_rps"] = ok / (restarted_at - down_lo)
    failures: dict[str, int] = {}
    for r in replies:
        for kind, n in r["failed"].items():
            failures[kind] = failures.get(kind, 0) + n
    row["failed_by_kind"] = failures
    causes: dict[str, int] = {}
    for r in replies:
        for cause, n in r["causes"].items():
            causes[cause] = causes.get(cause, 0) + n
    row["redis_warning_causes"] = causes
    return row


async def _trips(fp: Any, workers: list[_Worker], rounds: int) -> dict[str, Any]:
    delays: list[float] = []
    for i in range(rounds):
        model = f"down-{i}"
        fp.set_outage(503, models=[model])
        for w in workers[1:]:
            await w.ask(phase="watch", model=model)
        for w in workers[1:]:
            await w.answer()  # watching
        await workers[0].ask(phase="trip", model=model)
        tripped = (await workers[0].answer())["at"]
        for w in workers[1:]:
            seen = (await w.answer())["at"]
            delays.append(seen - tripped)
        fp.set_outage(None)
    ms = sorted(d * 1000.0 for d in delays)
    return {
        "trips": rounds,
        "observations": len(ms),
        "median_ms": statistics.median(ms),
        "p90_ms": ms[int(0.9 * (len(ms) - 1))],
        "max_ms": ms[-1],
    }


async def _admission_cost(url: str, n: int) -> dict[str, Any]:
    """Microseconds per admission (one reserve, sequential, nothing queued):
    the in-memory store against one Lua round trip to a local Redis."""
    import redis.asyncio as aioredis

    from resilience.store import MemoryStore, Rates, RedisStore

    rates = Rates(1e-6, 1e6)  # never binding: every reserve admits
    client = aioredis.Redis.from_url(url)
    redis_store = RedisStore(client, prefix="cost")
    out: dict[str, Any] = {}
    try:
        for name, store in (("memory", MemoryStore()), ("redis", redis_store)):
            for _ in range(50):  # warm up (connections, script cache)
                await store.reserve("k", 0.0, 0.0, rates)
            samples = []
            for _ in range(n):
                t = time.perf_counter()
                await store.reserve("k", 0.0, 0.0, rates)
                samples.append((time.perf_counter() - t) * 1e6)
            samples.sort()
            out[f"{name}_p50_us"] = samples[len(samples) // 2]
            out[f"{name}_p99_us"] = samples[int(0.99 * (len(samples) - 1))]
    finally:
        await redis_store.aclose()
        await client.aclose()
    return out


async def measure(quick: bool = False) -> dict[str, Any]:
    from resilience.testing import FakeProvider

    seconds = (
        {"memory": 1.5, "redis": 2.5, "kill": 3.5}
        if quick
        else {"memory": 10.0, "redis": 15.0, "kill": 15.0}
    )
    rounds = 3 if quick else 10
    with tempfile.TemporaryDirectory() as tmp:
        redis = _Redis(tmp)
        redis.start()
        models = [MODEL, *(f"down-{i}" for i in range(rounds))]
        workers: list[_Worker] = []
        try:
            async with FakeProvider(rpm=RPM, models=models) as fp:
                url = f"redis://127.0.0.1:{redis.port}/0"
                for _ in range(WORKERS):
                    proc = await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        "benchmarks.distributed",
                        "--worker",
                        fp.base_url,
                        url,
                        cwd=ROOT,
                        env={**os.environ, "PYTHONPATH": str(ROOT)},
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                    )
                    workers.append(_Worker(proc))
                for w in workers:
                    await w.answer()  # ready
                # First calls pay for imports and connections: not in any figure.
                for w in workers:
                    await w.ask(phase="warm")
                for w in workers:
                    await w.answer()
                await asyncio.sleep(1.0)
                rows = []
                for name, store, rpm in SCENARIOS:
                    if quick and name == "memory, limit / 4":
                        continue  # the static split: full runs only
                    key = "kill" if name.endswith("mid-run") else store
                    rows.append(await _rate(fp, workers, redis, name, store, rpm, seconds[key]))
                    # Let the provider's one-second bucket refill after a 429 storm.
                    await asyncio.sleep(1.0 if store == "memory" or not quick else 0.3)
                breaker = await _trips(fp, workers, rounds)
                cost = await _admission_cost(url, 500 if quick else 5000)
                for w in workers:
                    await w.ask(phase="exit")
        finally:
            for w in workers:
                if w.proc.returncode is None:
                    try:
                        await asyncio.wait_for(w.proc.wait(), 5)
                    except TimeoutError:
                        w.proc.kill()
            redis.kill()
    return {
        "rows": rows,
        "breaker_propagation": breaker,
        "admission_cost": cost,
        "setup": {
            "workers": WORKERS,
            "callers_per_worker": CALLERS,
            "limit_rps": RPM / 60.0,
            "burst": BURST,
            "seconds": seconds,
            "quick": quick,
        },
    }


# -- a worker process -----------------------------------------------------------------------------


class _Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.n = 0
        self.causes: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if "Redis store" in record.getMessage():
            self.n += 1
            args = record.args if isinstance(record.args, tuple) else ()
            cause = str(args[1]) if len(args) > 1 else "?"
            self.causes[cause] = self.causes.get(cause, 0) + 1


async def _worker(base_url: str, redis_url: str) -> None:
    import openai
    import redis.asyncio as aioredis
    from resilience.adapters.openai import resilient

    from resilience import (
        CircuitBreaker,
        CircuitOpenError,
        Limit,
        Pipeline,
        ProviderError,
        RateLimiter,
    )
    from resilience.store import RedisStore

    warnings = _Count()
    logging.getLogger("resilience").addHandler(warnings)
    loop = asyncio.get_running_loop()
    client = aioredis.Redis.from_url(redis_url)
    store = RedisStore(client, prefix="bench")
    sdk = openai.AsyncOpenAI(base_url=base_url + "/v1", api_key="sk-bench", max_retries=0)
    watcher = CircuitBreaker(store=store)
    messages = [{"role": "user", "content": "hi"}]

    def say(**fields: Any) -> None:
        sys.stdout.write(json.dumps(fields) + "\n")
        sys.stdout.flush()

    async def rate(cmd: dict[str, Any]) -> None:
        shared = cmd["store"] == "redis"
        limiter = RateLimiter(
            Limit(rpm=cmd["rpm"], burst=cmd["burst"]),
            adaptive=False,
            store=store if shared else None,
        )
        breaker = CircuitBreaker(store=store) if shared else CircuitBreaker()
        llm = resilient(sdk, pipeline=Pipeline(breaker, limiter), provider="fake")
        ok, failed, before = 0, dict[str, int](), warnings.n
        warnings.causes.clear()

        async def caller() -> None:
            nonlocal ok
            while True:
                try:
                    await llm.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
                    ok += 1
                except ProviderError as exc:
                    kind = str(exc.failure.kind)
                    failed[kind] = failed.get(kind, 0) + 1
                except Exception as exc:
                    failed[type(exc).__name__] = failed.get(type(exc).__name__, 0) + 1

        tasks = [loop.create_task(caller()) for _ in range(CALLERS)]
        await asyncio.sleep(cmd["seconds"])
        for t in tasks:
            t.cancel()
        await asyncio.wait(tasks, timeout=5)
        say(ok=ok, failed=failed, warnings=warnings.n - before, causes=warnings.causes)

    async def trip(model: str) -> None:
        opened: list[float] = []
        breaker = CircuitBreaker(
            failure_threshold=3,
            store=store,
            listeners=[lambda e: opened.append(time.time()) if e.new == "open" else None],
        )
        llm = resilient(sdk, pipeline=Pipeline(breaker), provider="fake")
        while not opened:
            with contextlib.suppress(ProviderError, CircuitOpenError):
                await llm.chat.completions.create(model=model, messages=messages, max_tokens=8)
        say(at=opened[0])

    async def watch(model: str) -> None:
        key = f"fake/{model}"
        watcher.state(key)  # known before the trip, as a busy worker's keys are
        say(watching=key)
        while watcher.state(key) != "open":
            await asyncio.sleep(0.0005)
        say(at=time.time())

    say(ready=True)
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        cmd = json.loads(line)
        if cmd["phase"] == "rate":
            await rate(cmd)
        elif cmd["phase"] == "trip":
            await trip(cmd["model"])
        elif cmd["phase"] == "watch":
            await watch(cmd["model"])
        elif cmd["phase"] == "warm":
            llm = resilient(sdk, pipeline=Pipeline(), provider="fake")
            for _ in range(2):
                await llm.chat.completions.create(model=MODEL, messages=messages, max_tokens=8)
            say(warm=True)
        else:
            break
    await store.aclose()
    await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description="One limit and one breaker across processes.")
    parser.add_argument("--quick", action="store_true", help="a few seconds per scenario")
    parser.add_argument(
        "--worker", nargs=2, metavar=("PROVIDER_URL", "REDIS_URL"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        asyncio.run(_worker(*args.worker))
        return
    result = asyncio.run(measure(quick=args.quick))
    rows = result.pop("rows")
    record = emit("distributed", rows, **result)
    b = record["breaker_propagation"]
    print(
        f"breaker trip seen by the other processes: median {b['median_ms']:.1f} ms, "
        f"p90 {b['p90_ms']:.1f} ms, max {b['max_ms']:.1f} ms ({b['observations']} observations)"
    )
    c = record["admission_cost"]
    print(
        f"one admission: in memory {c['memory_p50_us']:.1f} us (p99 {c['memory_p99_us']:.1f}), "
        f"through Redis {c['redis_p50_us']:.0f} us (p99 {c['redis_p99_us']:.0f})"
    )


if __name__ == "__main__":
    main()
