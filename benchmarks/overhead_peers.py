"""What each resilience layer costs per call on the success path, against the peers.

A zero-latency handler that answers at once, wrapped by:

- ``bare``: nothing (the handler awaited directly): subtracted from the others;
- ``resilience, full pipeline``: ``Fallback``, ``Retry``, ``CircuitBreaker``,
  ``RateLimiter`` (limits far above the load), through ``pipeline.run`` with a
  new ``Call`` per call, as the adapters do;
- ``resilience, full pipeline + Telemetry (no-op API)``: the same with the
  ``Telemetry`` subscriber and no OpenTelemetry SDK installed, what a user who
  never configured OTel pays;
- ``litellm Router``: ``Router(...).acompletion(..., mock_response="ok")``,
  LiteLLM's own no-network path (one deployment, no retries configured
  beyond its defaults);
- ``langchain with_retry``: ``RunnableLambda(handler).with_retry()``;
- ``langchain with_fallbacks``: the same with one fallback runnable;
- ``langchain InMemoryRateLimiter``: ``aacquire()`` (rate far above the
  load) before the handler;
- ``tenacity AsyncRetrying``: ``async for attempt in AsyncRetrying(...)``.

Figures are CPU time (``time.process_time``, all threads of the process) per
call over many sequential calls on one event loop, the median of interleaved
rounds; ``added_us`` subtracts ``bare``; ``x_resilience`` is a contender's
added cost over the full pipeline's (with the no-op Telemetry).

    python -m benchmarks.overhead_peers [--quick] [--profile]

``--profile`` runs the full pipeline under cProfile and prints the top
functions by own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import importlib
import io
import logging
import os
import pstats
import statistics
import time
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks._common import emit

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

MODEL = "gpt-4o"
MESSAGES = [{"role": "user", "content": "Say hello."}]

# Calls per round in full mode, by how slow a contender is (LiteLLM: milliseconds).
CALLS = {"fast": 20_000, "medium": 2_000, "slow": 400}
GOAL_US = 15.0


async def _handler(call: Any = None) -> str:
    return "ok"


def bare() -> Callable[[], Awaitable[Any]]:
    return lambda: _handler(None)


def _middlewares(layers: str) -> list[Any]:
    from resilience import CircuitBreaker, Fallback, Limit, RateLimiter, Retry

    make: dict[str, Callable[[], Any]] = {
        "F": lambda: Fallback(["backup/gpt-4o-mini"]),
        "R": lambda: Retry(3),
        "B": lambda: CircuitBreaker(),
        "L": lambda: RateLimiter(Limit(rpm=1e9, tpm=1e12)),
    }
    return [make[c]() for c in layers]


def _pipeline(telemetry: bool, layers: str = "FRBL") -> Any:
    from resilience import Call, Pipeline

    hooks: list[Any] = []
    if telemetry:
        from resilience.telemetry import Telemetry

        hooks.append(Telemetry())
    pipeline = Pipeline(*_middlewares(layers), hooks=hooks)

    def run() -> Awaitable[Any]:
        return pipeline.run(
            _handler, Call(provider="openai", model=MODEL, input_tokens=10, max_output_tokens=64)
        )

    return run


def resilience_full() -> Callable[[], Awaitable[Any]]:
    run: Callable[[], Awaitable[Any]] = _pipeline(telemetry=False)
    return run


def resilience_full_otel() -> Callable[[], Awaitable[Any]]:
    run: Callable[[], Awaitable[Any]] = _pipeline(telemetry=True)
    return run


def _layer(layers: str) -> Callable[[], Callable[[], Awaitable[Any]]]:
    def make() -> Callable[[], Awaitable[Any]]:
        run: Callable[[], Awaitable[Any]] = _pipeline(telemetry=False, layers=layers)
        return run

    return make


def litellm_router() -> Callable[[], Awaitable[Any]]:
    litellm: Any = importlib.import_module("litellm")
    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.ERROR)
    router = litellm.Router(
        model_list=[
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"openai/{MODEL}",
                    "api_key": "sk-bench",
                    "mock_response": "ok",
                },
            }
        ]
    )
    return lambda: router.acompletion(model=MODEL, messages=MESSAGES, mock_response="ok")


def langchain_with_retry() -> Callable[[], Awaitable[Any]]:
    from langchain_core.runnables import RunnableLambda

    runnable: Any = RunnableLambda(_handler).with_retry(stop_after_attempt=3)
    return lambda: runnable.ainvoke(None)


def langchain_with_fallbacks() -> Callable[[], Awaitable[Any]]:
    from langchain_core.runnables import RunnableLambda

    runnable: Any = RunnableLambda(_handler).with_fallbacks([RunnableLambda(_handler)])
    return lambda: runnable.ainvoke(None)


def langchain_rate_limiter() -> Callable[[], Awaitable[Any]]:
    from langchain_core.rate_limiters import InMemoryRateLimiter

    limiter = InMemoryRateLimiter(requests_per_second=1e9, max_bucket_size=1e9)

    async def run() -> Any:
        await limiter.aacquire()
        return await _handler(None)

    return run


def tenacity_retrying() -> Callable[[], Awaitable[Any]]:
    from tenacity import AsyncRetrying, stop_after_attempt, wait_exponential_jitter

    async def run() -> Any:
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(3), wait=wait_exponential_jitter(), reraise=True
        ):
            with attempt:
                return await _handler(None)
        return None

    return run


# name -> (factory, speed class)
CONTENDERS: dict[str, tuple[Callable[[], Callable[[], Awaitable[Any]]], str]] = {
    "bare": (bare, "fast"),
    "resilience, full pipeline": (resilience_full, "fast"),
    "resilience, full pipeline + Telemetry (no-op API)": (resilience_full_otel, "fast"),
    "litellm Router (mock_response)": (litellm_router, "slow"),
    "langchain with_retry": (langchain_with_retry, "medium"),
    "langchain with_fallbacks": (langchain_with_fallbacks, "medium"),
    "langchain InMemoryRateLimiter": (langchain_rate_limiter, "fast"),
    "tenacity AsyncRetrying": (tenacity_retrying, "fast"),
    # Where the pipeline's own time goes: each layer alone (no subscriber).
    "layer: Pipeline, no middleware": (_layer(""), "fast"),
    "layer: Fallback only": (_layer("F"), "fast"),
    "layer: Retry only": (_layer("R"), "fast"),
    "layer: CircuitBreaker only": (_layer("B"), "fast"),
    "layer: RateLimiter only": (_layer("L"), "fast"),
}
REFERENCE = "resilience, full pipeline + Telemetry (no-op API)"


async def _cpu_per_call(run: Callable[[], Awaitable[Any]], calls: int) -> float:
    gc.collect()
    start = time.process_time()
    for _ in range(calls):
        await run()
    return (time.process_time() - start) / calls


async def measure(quick: bool = False) -> dict[str, Any]:
    rounds = 3 if quick else 7
    scale = 10 if quick else 1
    runs: dict[str, Callable[[], Awaitable[Any]]] = {}
    calls: dict[str, int] = {}
    skipped: dict[str, str] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (factory, speed) in CONTENDERS.items():
            try:
                runs[name] = factory()
            except ImportError as exc:  # a peer that is not installed
                skipped[name] = f"not installed: {exc.name}"
                continue
            calls[name] = max(20, CALLS[speed] // scale)
        for run in runs.values():  # warm up imports, caches, lazy set-up
            await _cpu_per_call(run, 50)
        samples: dict[str, list[float]] = {name: [] for name in runs}
        # Interleave round by round so drift (other processes) hits all alike.
        for _ in range(rounds):
            for name, run in runs.items():
                samples[name].append(await _cpu_per_call(run, calls[name]))
    base = statistics.median(samples["bare"])
    ref = statistics.median(samples[REFERENCE]) - base if REFERENCE in samples else None
    rows = []
    for name, values in samples.items():
        med = statistics.median(values)
        added = med - base
        rows.append(
            {
                "contender": name,
                "calls": calls[name],
                "cpu_us_per_call": round(med * 1e6, 2),
                "added_us": round(added * 1e6, 2),
                "x_resilience": (
                    round(added / ref, 2)
                    if ref and name != "bare" and not name.startswith("layer:")
                    else None
                ),
            }
        )
    goal_met = ref is not None and ref * 1e6 <= GOAL_US
    return {
        "rows": rows,
        "rounds": rounds,
        "quick": quick,
        "goal_us": GOAL_US,
        "goal_met": goal_met,
        "skipped": skipped,
    }


def profile(calls: int = 20_000, top: int = 25) -> str:
    """The full pipeline (no-op Telemetry) under cProfile: top functions by own time."""
    run = resilience_full_otel()

    async def loop() -> None:
        for _ in range(calls):
            await run()

    asyncio.run(loop())  # warm up outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(loop())
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few seconds, fewer calls")
    parser.add_argument("--profile", action="store_true", help="cProfile the full pipeline")
    args = parser.parse_args()
    if args.profile:
        print(profile())
        return
    result = asyncio.run(measure(quick=args.quick))
    rows = result.pop("rows")
    emit("overhead_peers", rows, **result)


if __name__ == "__main__":
    main()
