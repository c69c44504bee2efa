"""A provider outage, three ways: this library's pipeline, LiteLLM's Router
and LangChain's ``with_fallbacks`` (with and without the SDK's own retries).

Two fake providers speak the OpenAI wire format (``resilience.testing.FakeProvider``,
20 ms per answer). Callers send 40 calls per second to provider A for 16
seconds; A answers 503 (with ``retry-after: 1``, as real overload answers
do) from second 4 to second 10; B stays healthy. Every contender gets a
fresh pair of providers and the same open-loop schedule, one after another
in one process.

- ``resilience``: ``Pipeline(Fallback(["A/gpt-4o", "B/gpt-4o"]), Retry(3),
  CircuitBreaker(reset_timeout=2.0))`` around the real ``openai`` SDK
  (``max_retries=0``), defaults otherwise.
- ``litellm-router``: ``Router`` with a model group per provider,
  ``fallbacks=[{"A": ["B"]}]``, ``num_retries=2``, ``allowed_fails=5``,
  ``cooldown_time=2`` (the breaker's threshold and open time).
- ``langchain-fallbacks``: ``ChatOpenAI(max_retries=0).with_fallbacks([...B...])``.
- ``langchain-fallbacks-sdk-retries``: the same with the SDK's default
  ``max_retries=2``.

Reported per contender: requests A received during the outage, failed user
calls, p50/p99 latency of the calls started before, during and after the
outage, and the seconds from A's recovery to its first successful answer
(traffic back on A). The JSON line also holds per-second series (calls,
failures, p50/p99 latency, requests and answers per provider).

    python -m benchmarks.outage [--quick]

Quick mode: 3 s run, outage from 1 s to 2 s, breaker open time 0.5 s
(LiteLLM cooldown likewise).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import statistics
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from benchmarks._common import emit, ms, percentile
from resilience import Call, CircuitBreaker, Fallback, Pipeline, Retry
from resilience.testing import FakeProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

MODEL = "gpt-4o"
MESSAGES = [{"role": "user", "content": "Say hello."}]
RATE = 40.0  # calls per second
LATENCY = 0.02  # seconds per answer from a healthy provider
WARMUP = 5  # sequential calls before the clock starts


@dataclass(frozen=True)
class Plan:
    run: float
    outage_start: float
    outage_end: float
    open_time: float  # breaker reset_timeout / LiteLLM cooldown_time
    drain: float  # how long to wait for stragglers after the last call started


FULL = Plan(run=16.0, outage_start=4.0, outage_end=10.0, open_time=2.0, drain=60.0)
QUICK = Plan(run=3.0, outage_start=1.0, outage_end=2.0, open_time=0.5, drain=15.0)


@dataclass
class Outcome:
    start: float  # seconds since the run began
    latency: float
    ok: bool


@dataclass
class Contender:
    name: str
    call: Callable[[], Awaitable[Any]]
    close: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())


async def _nothing() -> None:
    return None


def _client(fp: FakeProvider) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-bench", max_retries=0)


def ours(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
    clients = {"A": _client(a), "B": _client(b)}

    async def handler(call: Call) -> Any:
        return await clients[call.provider].chat.completions.create(
            model=call.model, messages=MESSAGES, max_tokens=16
        )

    breaker = CircuitBreaker(reset_timeout=plan.open_time)
    pipeline = Pipeline(Fallback(["A/" + MODEL, "B/" + MODEL]), Retry(3), breaker)
    call = Call(provider="A", model=MODEL, max_output_tokens=16, timeout=30.0)

    async def close() -> None:
        for client in clients.values():
            await client.close()

    return Contender("resilience", lambda: pipeline.run(handler, call), close)


def litellm_router(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
    import litellm

    litellm.suppress_debug_info = True
    logging.getLogger("LiteLLM").setLevel(logging.CRITICAL)
    logging.getLogger("LiteLLM Router").setLevel(logging.CRITICAL)

    def deployment(name: str, fp: FakeProvider) -> dict[str, Any]:
        params = {"model": "openai/" + MODEL, "api_base": fp.base_url + "/v1", "api_key": "sk-x"}
        return {"model_name": name, "litellm_params": params}

    router = litellm.Router(
        model_list=[deployment("A", a), deployment("B", b)],
        fallbacks=[{"A": ["B"]}],
        num_retries=2,
        allowed_fails=5,
        cooldown_time=plan.open_time,
    )

    async def call() -> Any:
        return await router.acompletion(model="A", messages=MESSAGES, max_tokens=16)

    return Contender("litellm-router", call)


def _langchain(name: str, retries: int) -> Callable[[FakeProvider, FakeProvider, Plan], Contender]:
    def make(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
        from langchain_openai import ChatOpenAI

        def chat(fp: FakeProvider) -> Any:
            return ChatOpenAI(
                model=MODEL,
                base_url=fp.base_url + "/v1",
                api_key="sk-x",  # type: ignore[arg-type]
                max_retries=retries,
                max_tokens=16,  # type: ignore[call-arg]
            )

        chain = chat(a).with_fallbacks([chat(b)])
        return Contender(name, lambda: chain.ainvoke("Say hello."))

    return make


langchain_fallbacks = _langchain("langchain-fallbacks", 0)
langchain_sdk_retries = _langchain("langchain-fallbacks-sdk-retries", 2)


CONTENDERS = (ours, litellm_router, langchain_fallbacks, langchain_sdk_retries)


async def _drive(contender: Contender, a: FakeProvider, plan: Plan) -> tuple[list[Outcome], float]:
    loop = asyncio.get_running_loop()
    for _ in range(WARMUP):  # connections, lazy imports: not part of the figures
        await contender.call()
    t0 = loop.time()
    outcomes: list[Outcome] = []

    async def one() -> None:
        started = loop.time()
        ok = True
        try:
            await contender.call()
        except Exception:
            ok = False
        outcomes.append(Outcome(started - t0, loop.time() - started, ok))

    loop.call_at(t0 + plan.outage_start, a.set_outage, 503)
    loop.call_at(t0 + plan.outage_end, a.set_outage, None)
    tasks = []
    for i in range(int(plan.run * RATE)):
        delay = t0 + i / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    _, pending = await asyncio.wait(tasks, timeout=plan.drain)
    for task in pending:  # still hanging after the drain: a failed call
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    lost = len(tasks) - len(outcomes)
    outcomes.extend(Outcome(plan.run, plan.drain, False) for _ in range(lost))
    return outcomes, t0


async def _measure_one(
    make: Callable[[FakeProvider, FakeProvider, Plan], Contender], plan: Plan
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    async with FakeProvider(latency=LATENCY) as a, FakeProvider(latency=LATENCY) as b:
        contender = make(a, b, plan)
        loop = asyncio.get_running_loop()
        # Record times are seconds since each provider started; shift them to the run's clock.
        a_start = loop.time() - a.now()
        b_start = loop.time() - b.now()
        outcomes, t0 = await _drive(contender, a, plan)
        await contender.close()
    a_times = [(r.time + a_start - t0, r.status) for r in a.requests[WARMUP:]]
    b_times = [(r.time + b_start - t0, r.status) for r in b.requests]
    start, end = plan.outage_start, plan.outage_end

    def phase(lo: float, hi: float) -> list[float]:
        return [o.latency for o in outcomes if lo <= o.start < hi and o.ok]

    back = [t - end for t, status in a_times if t >= end and status == 200]
    row = {
        "contender": contender.name,
        "calls": len(outcomes),
        "failed": sum(not o.ok for o in outcomes),
        "A_reqs_in_outage": sum(1 for t, _ in a_times if start <= t < end),
        "A_503s": sum(1 for _, s in a_times if s == 503),
        "B_reqs": len(b_times),
        "p50_before_ms": ms(percentile(phase(0.0, start), 0.5)),
        "p50_during_ms": ms(percentile(phase(start, end), 0.5)),
        "p50_after_ms": ms(percentile(phase(end, plan.run), 0.5)),
        "p99_before_ms": ms(percentile(phase(0.0, start), 0.99)),
        "p99_during_ms": ms(percentile(phase(start, end), 0.99)),
        "p99_after_ms": ms(percentile(phase(end, plan.run), 0.99)),
        "back_on_A_s": round(min(back), 2) if back else None,
    }
    series = []
    step = 1.0 if plan.run >= 10 else 0.25
    for i in range(math.ceil(plan.run / step)):
        lo, hi = i * step, (i + 1) * step
        mine = [o for o in outcomes if lo <= o.start < hi]
        lat = [o.latency for o in mine if o.ok]
        series.append(
            {
                "contender": contender.name,
                "t": lo,
                "calls": len(mine),
                "failed": sum(not o.ok for o in mine),
                "p50_ms": ms(percentile(lat, 0.5)),
                "p99_ms": ms(percentile(lat, 0.99)),
                "mean_ms": ms(statistics.fmean(lat)) if lat else None,
                "A_reqs": sum(1 for t, _ in a_times if lo <= t < hi),
                "A_ok": sum(1 for t, s in a_times if lo <= t < hi and s == 200),
                "B_reqs": sum(1 for t, _ in b_times if lo <= t < hi),
            }
        )
    return row, series


async def measure(quick: bool = False) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    rows: list[dict[str, Any]] = []
    series: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for make in CONTENDERS:
            row, points = await _measure_one(make, plan)
            rows.append(row)
            series.extend(points)
    return {
        "rows": rows,
        "series": series,
        "plan": {
            "run_s": plan.run,
            "outage_s": [plan.outage_start, plan.outage_end],
            "rate_per_s": RATE,
            "provider_latency_s": LATENCY,
            "open_time_s": plan.open_time,
            "quick": quick,
        },
        "goals": {
            "failed": 0,
            "A_reqs_in_outage_max": 8,
            "p99_during_ms_max": 60,
            "back_on_A_within_s": plan.open_time + 1.0,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s run, 1 s outage")
    args = parser.parse_args()
    result = asyncio.run(measure(quick=args.quick))
    emit(
        "outage",
        result["rows"],
        series=result["series"],
        plan=result["plan"],
        goals=result["goals"],
    )


if __name__ == "__main__":
    main()
