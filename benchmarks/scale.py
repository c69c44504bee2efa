"""Scale: many calls in flight at once, many providers, and raw throughput.

The full pipeline (``Fallback``, ``Retry``, ``CircuitBreaker``,
``RateLimiter`` with limits far above the load) around a handler that costs
nothing of its own:

- ``in flight``: 10,000 calls started at once, each held inside the handler
  on one ``asyncio.Event`` until all of them are in; memory (``tracemalloc``)
  per call in flight, with the same tasks awaiting the bare handler
  subtracted (the application's own task and coroutine), then the time to
  let them all finish;
- ``provider state``: one call to each of 1,000 distinct provider/model
  pairs; memory the middlewares keep per pair afterwards;
- ``throughput``: calls per second on one event loop, one caller at a time
  and 100 concurrent callers, with and without the ``Telemetry`` subscriber
  (OpenTelemetry's no-op API).

    python -m benchmarks.scale [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import emit
from resilience import Call, CircuitBreaker, Fallback, Limit, Pipeline, RateLimiter, Retry

IN_FLIGHT = 10_000
PROVIDERS = 1_000


def full_pipeline(telemetry: bool = False) -> Pipeline:
    hooks: list[Any] = []
    if telemetry:
        from resilience.telemetry import Telemetry

        hooks.append(Telemetry())
    return Pipeline(
        Fallback(["backup/gpt-4o-mini"]),
        Retry(3),
        CircuitBreaker(),
        RateLimiter(Limit(rpm=1e12, tpm=1e15)),
        hooks=hooks,
    )


def _call(provider: str = "openai", model: str = "gpt-4o") -> Call:
    return Call(provider=provider, model=model, input_tokens=10, max_output_tokens=64)


Runner = Callable[[Callable[[Call], Awaitable[str]]], Awaitable[Any]]


async def _hold(n: int, run: Runner) -> dict[str, float]:
    """Start ``n`` calls that wait inside the handler; memory once all are in,
    then the time to release and finish them."""
    gate = asyncio.Event()
    inside = 0
    all_in = asyncio.Event()

    async def handler(call: Call) -> str:
        nonlocal inside
        inside += 1
        if inside == n:
            all_in.set()
        await gate.wait()
        return "ok"

    gc.collect()
    before = tracemalloc.get_traced_memory()[0]  # (0, 0) when not tracing
    started = time.perf_counter()
    tasks = [asyncio.ensure_future(run(handler)) for _ in range(n)]
    await all_in.wait()
    ramp = time.perf_counter() - started
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    released = time.perf_counter()
    gate.set()
    results = await asyncio.gather(*tasks)
    drain = time.perf_counter() - released
    assert all(r == "ok" for r in results)
    del tasks, results
    return {"bytes": held, "ramp_s": ramp, "drain_s": drain}


async def in_flight(n: int) -> list[dict[str, Any]]:
    pipeline = full_pipeline()
    tracemalloc.start()
    try:
        bare_mem = await _hold(n, lambda h: h(_call()))
        piped_mem = await _hold(n, lambda h: pipeline.run(h, _call()))
    finally:
        tracemalloc.stop()
    # Timed again without tracemalloc, which slows every allocation.
    bare = await _hold(n, lambda h: h(_call()))
    piped = await _hold(n, lambda h: pipeline.run(h, _call()))
    per_call = (piped_mem["bytes"] - bare_mem["bytes"]) / n
    return [
        {
            "metric": f"memory per call in flight ({n:,} at once)",
            "value": round(per_call),
            "unit": "bytes",
            "note": (
                f"pipeline {piped_mem['bytes'] / n:,.0f} B "
                f"minus bare task {bare_mem['bytes'] / n:,.0f} B"
            ),
        },
        {
            "metric": f"time to start {n:,} calls",
            "value": round(piped["ramp_s"] * 1000, 1),
            "unit": "ms",
            "note": f"bare tasks {bare['ramp_s'] * 1000:,.1f} ms",
        },
        {
            "metric": f"time to finish {n:,} released calls",
            "value": round(piped["drain_s"] * 1000, 1),
            "unit": "ms",
            "note": f"bare tasks {bare['drain_s'] * 1000:,.1f} ms",
        },
    ]


async def provider_state(n: int) -> dict[str, Any]:
    async def handler(call: Call) -> str:
        return "ok"

    tracemalloc.start()
    try:
        pipeline = full_pipeline()
        await pipeline.run(handler, _call("warmup", "m"))  # first-use set-up is not per provider
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(n):
            await pipeline.run(handler, _call(f"provider{i}", f"model{i}"))
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return {
        "metric": f"memory per provider/model state ({n:,} pairs)",
        "value": round(grown / n),
        "unit": "bytes",
        "note": "breaker records (provider and provider/model), limiter key, retry budget",
    }


async def throughput(calls: int, concurrency: int, telemetry: bool) -> dict[str, Any]:
    pipeline = full_pipeline(telemetry)

    async def handler(call: Call) -> str:
        return "ok"

    per_worker = calls // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await pipeline.run(handler, _call())

    await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm up
    gc.collect()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    label = "with Telemetry (no-op API)" if telemetry else "no subscriber"
    return {
        "metric": f"calls/s, {concurrency} caller{'s' if concurrency > 1 else ''}, {label}",
        "value": round(per_worker * concurrency / elapsed),
        "unit": "calls/s",
        "note": f"{per_worker * concurrency:,} calls in {elapsed:.2f} s",
    }


async def measure(quick: bool = False) -> dict[str, Any]:
    n = 1_000 if quick else IN_FLIGHT
    providers = 100 if quick else PROVIDERS
    calls = 5_000 if quick else 50_000
    rows: list[dict[str, Any]] = []
    rows += await in_flight(n)
    rows.append(await provider_state(providers))
    for concurrency in (1, 100):
        for telemetry in (False, True):
            rows.append(await throughput(calls, concurrency, telemetry))
    return {"rows": rows, "quick": quick, "in_flight": n, "providers": providers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 in flight, fewer calls")
    args = parser.parse_args()
    result = asyncio.run(measure(quick=args.quick))
    rows = result.pop("rows")
    emit("scale", rows, **result)


if __name__ == "__main__":
    main()
