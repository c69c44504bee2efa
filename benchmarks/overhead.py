"""What telemetry costs per call.

The same pipeline (the real ``Retry``) around a zero-latency handler, run
sequentially on one event loop, once per contender:

- ``no subscriber``: the baseline, no hooks at all;
- ``empty subscriber``: a hook that does nothing, to separate what the
  pipeline pays to build and deliver events (any subscriber) from what
  ``Telemetry`` adds;
- ``telemetry, no-op API``: ``Telemetry()`` with no SDK configured, the
  OpenTelemetry API's no-op path (what a user who never set up OTel pays);
- ``telemetry, SDK in memory``: the real SDK recording every span, event and
  metric (``SimpleSpanProcessor`` into an ``InMemorySpanExporter``, and an
  ``InMemoryMetricReader``).

Two scenarios: ``ok`` (one attempt) and ``2 retries`` (503, 503, then an
answer: three attempt spans, two retry events, two failures counted).
Figures are microseconds per logical call; ``overhead_us`` is the difference
to the baseline of the same scenario in the same run.

    python -m benchmarks.overhead [--quick]

To compare another contender, add a function ``(scenario) -> Contender`` to
``CONTENDERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from benchmarks._common import emit
from resilience import Call, Pipeline, Retry
from resilience.telemetry import Telemetry

CALL = Call(provider="openai", model="gpt-4o", max_output_tokens=64)
# scenario -> (failures before the answer, calls per round in full mode)
SCENARIOS = {"ok": (0, 20_000), "2 retries": (2, 5_000)}


class _InstantClock:
    """A real monotonic clock whose sleeps do not wait, so backoff costs
    only what the code around it costs."""

    def monotonic(self) -> float:
        return time.perf_counter()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)

    def call_at(self, when: float, callback: Callable[[], object]) -> Any:
        return asyncio.get_running_loop().call_later(when - self.monotonic(), callback)


class _Unavailable(Exception):
    status_code = 503


def _handler(failures: int) -> Callable[[Call], Awaitable[str]]:
    """Zero-latency provider: ``failures`` 503s, then an answer, per call."""
    state = {"n": 0}

    async def handler(call: Call) -> str:
        n = state["n"]
        state["n"] = (n + 1) % (failures + 1)
        if n < failures:
            raise _Unavailable()
        return "ok"

    return handler


@dataclass
class Contender:
    run: Callable[[], Awaitable[Any]]  # one logical call
    reset: Callable[[], None] = lambda: None  # drop what was recorded between rounds
    spans: Callable[[], int] = lambda: 0  # spans recorded since the last reset


def _pipeline(hooks: list[Any]) -> Pipeline:
    retry = Retry(3, base=0.001, cap=0.001, jitter="none", budget=None)
    return Pipeline(retry, hooks=hooks, clock=_InstantClock())


def no_subscriber(failures: int) -> Contender:
    pipeline, handler = _pipeline([]), _handler(failures)
    return Contender(run=lambda: pipeline.run(handler, CALL))


def empty_subscriber(failures: int) -> Contender:
    pipeline, handler = _pipeline([lambda event: None]), _handler(failures)
    return Contender(run=lambda: pipeline.run(handler, CALL))


def telemetry_noop(failures: int) -> Contender:
    # No SDK is installed globally in this process: the API's proxies are no-ops.
    pipeline, handler = _pipeline([Telemetry()]), _handler(failures)
    return Contender(run=lambda: pipeline.run(handler, CALL))


def telemetry_sdk(failures: int) -> Contender:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    telemetry = Telemetry(tracer_provider=tracer_provider, meter_provider=meter_provider)
    pipeline, handler = _pipeline([telemetry]), _handler(failures)
    return Contender(
        run=lambda: pipeline.run(handler, CALL),
        reset=exporter.clear,
        spans=lambda: len(exporter.get_finished_spans()),
    )


CONTENDERS: dict[str, Callable[[int], Contender]] = {
    "no subscriber": no_subscriber,
    "empty subscriber": empty_subscriber,
    "telemetry, no-op API": telemetry_noop,
    "telemetry, SDK in memory": telemetry_sdk,
}


async def _time(contender: Contender, calls: int) -> float:
    """Seconds per call over ``calls`` sequential calls."""
    run = contender.run
    gc.collect()
    start = time.perf_counter()
    for _ in range(calls):
        await run()
    return (time.perf_counter() - start) / calls


async def measure(quick: bool = False) -> dict[str, Any]:
    rounds = 3 if quick else 7
    rows: list[dict[str, Any]] = []
    for scenario, (failures, full_calls) in SCENARIOS.items():
        calls = full_calls // 10 if quick else full_calls
        contenders = {name: make(failures) for name, make in CONTENDERS.items()}
        for contender in contenders.values():  # warm up imports, caches, instruments
            await _time(contender, 200)
        samples: dict[str, list[float]] = {name: [] for name in contenders}
        spans: dict[str, float] = {}
        # Interleave the contenders round by round so drift hits them alike.
        for _ in range(rounds):
            for name, contender in contenders.items():
                contender.reset()
                samples[name].append(await _time(contender, calls))
                spans[name] = contender.spans() / calls
        base = statistics.median(samples["no subscriber"])
        for name, values in samples.items():
            median = statistics.median(values)
            rows.append(
                {
                    "scenario": scenario,
                    "contender": name,
                    "calls": calls,
                    "us_per_call": median * 1e6,
                    "min_us": min(values) * 1e6,
                    "overhead_us": (median - base) * 1e6,
                    "spans_per_call": spans[name],
                }
            )
    return {"rows": rows, "rounds": rounds, "quick": quick}


def main() -> None:
    parser = argparse.ArgumentParser(description="Per-call cost of resilience telemetry.")
    parser.add_argument("--quick", action="store_true", help="a few seconds, fewer calls")
    args = parser.parse_args()
    result = asyncio.run(measure(quick=args.quick))
    rows = result.pop("rows")
    emit("overhead", rows, **result)


if __name__ == "__main__":
    main()
