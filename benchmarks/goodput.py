"""Goodput under a provider rate limit: how close each client gets to the limit.

One fake provider (``resilience.testing.FakeProvider``, OpenAI wire format,
30 ms per answer) allows 3,000 requests a minute and enforces them the way
OpenAI documents (one second's worth at a time, so a burst of a minute's
quota is refused after the first 50), sending OpenAI's ``x-ratelimit-*``
headers (limit, remaining and reset of the per-minute budget) on every
answer. 200 callers share 600 chat calls (prompts of 20 to 3,000 tokens,
log-uniform, seeded; ``max_tokens=64``): the ideal is 12 s, a little less for
a client that uses the provider's first second of burst. Every contender
gets a fresh provider and the same calls, one after another in one process,
through the real ``openai`` SDK (or the host's own client):

- ``resilience-configured``: ``Pipeline(Retry(20), RateLimiter({"openai/gpt-4o-mini":
  Limit(rpm=3000)}))`` around a plain handler that calls the SDK.
- ``resilience-adaptive``: the same with ``RateLimiter()`` (no limit given); the
  handler reports nothing, so the limiter only sees the headers of 429s.
- ``resilience-adaptive-adapter``: ``RateLimiter()`` through the openai adapter
  (``resilience.adapters.openai.resilient``), which reads every answer's headers.
- ``openai-sdk``: ``AsyncOpenAI()`` with its default retries (``max_retries=2``,
  which honour ``retry-after``).
- ``tenacity``: the OpenAI cookbook's recipe, ``@retry(wait=
  wait_random_exponential(min=1, max=60), stop=stop_after_attempt(6))`` around
  the SDK with its own retries off.
- ``langchain-ratelimiter``: ``ChatOpenAI(rate_limiter=InMemoryRateLimiter(
  requests_per_second=50, check_every_n_seconds=0.01), max_retries=0)
  .with_retry(stop_after_attempt=6)``: the limit set exactly, polling finer than
  its default 0.1 s (which alone would cap it at 10 calls/s).
- ``litellm-router``: ``Router`` with the deployment's ``rpm=3000`` and
  ``routing_strategy="usage-based-routing-v2"`` (the strategy that enforces it),
  ``num_retries=2``.

Per contender: completion time against the ideal, goodput as a share of the
limit, requests the provider received, 429s it answered, calls that failed,
latency p50/p99. Goals for this library: configured >= 97 % of the limit with
<= 0.5 % of requests answered 429; adaptive >= 90 % with <= 5 %; no failed call.

    python -m benchmarks.goodput [--quick] [--only NAME,...]

Quick mode: 12,000 rpm (200/s), 400 calls, 200 callers (ideal 2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import openai

from benchmarks._common import emit, percentile
from resilience import Call, Limit, Pipeline, RateLimiter, Retry
from resilience.testing import FakeProvider

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

MODEL = "gpt-4o-mini"
WARMUP_MODEL = "gpt-4o"  # its own limits at the provider and its own limiter key
MAX_TOKENS = 64
LATENCY = 0.03
SEED = 7
RETRIES = 20


@dataclass(frozen=True)
class Plan:
    rpm: int
    tpm: int | None
    calls: int
    callers: int
    give_up: float  # seconds after which a contender's run is cut short

    @property
    def ideal(self) -> float:
        return self.calls / (self.rpm / 60.0)


FULL = Plan(rpm=3000, tpm=None, calls=600, callers=200, give_up=300.0)
QUICK = Plan(rpm=12000, tpm=None, calls=400, callers=200, give_up=60.0)


def prompts(n: int) -> list[str]:
    rng = random.Random(SEED)
    sizes = [int(math.exp(rng.uniform(math.log(20), math.log(3000)))) for _ in range(n)]
    return ["word " * (4 * s // 5) for s in sizes]  # ~4 characters per token


@dataclass
class Contender:
    name: str
    call: Callable[[str, str], Awaitable[Any]]  # (model, prompt)
    close: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())


async def _nothing() -> None:
    return None


def _client(fp: FakeProvider, retries: int) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-bench", max_retries=retries)


def _messages(prompt: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": prompt}]


def _plain(name: str, limiter: RateLimiter) -> Callable[[FakeProvider, Plan], Contender]:
    """Our pipeline around a handler that calls the SDK and reports nothing."""

    def make(fp: FakeProvider, plan: Plan) -> Contender:
        raw = _client(fp, 0)
        pipeline = Pipeline(Retry(RETRIES), limiter)
        prompts: dict[int, str] = {}

        async def handler(call: Call) -> Any:
            return await raw.chat.completions.create(
                model=call.model, messages=_messages(prompts[id(call)]), max_tokens=MAX_TOKENS
            )

        async def call(model: str, prompt: str) -> Any:
            c = Call("openai", model, input_tokens=len(prompt) // 4, max_output_tokens=MAX_TOKENS)
            prompts[id(c)] = prompt
            try:
                return await pipeline.run(handler, c)
            finally:
                del prompts[id(c)]

        return Contender(name, call, raw.close)

    return make


def configured(fp: FakeProvider, plan: Plan) -> Contender:
    limits = {f"openai/{MODEL}": Limit(rpm=plan.rpm, tpm=plan.tpm)}
    return _plain("resilience-configured", RateLimiter(limits))(fp, plan)


def adaptive(fp: FakeProvider, plan: Plan) -> Contender:
    return _plain("resilience-adaptive", RateLimiter())(fp, plan)


def adaptive_adapter(fp: FakeProvider, plan: Plan) -> Contender:
    from resilience.adapters.openai import resilient

    raw = _client(fp, 0)
    client = resilient(raw, pipeline=Pipeline(Retry(RETRIES), RateLimiter()))

    async def call(model: str, prompt: str) -> Any:
        return await client.chat.completions.create(
            model=model, messages=_messages(prompt), max_tokens=MAX_TOKENS
        )

    return Contender("resilience-adaptive-adapter", call, raw.close)


def openai_sdk(fp: FakeProvider, plan: Plan) -> Contender:
    client = _client(fp, 2)

    async def call(model: str, prompt: str) -> Any:
        return await client.chat.completions.create(
            model=model, messages=_messages(prompt), max_tokens=MAX_TOKENS
        )

    return Contender("openai-sdk", call, client.close)


def tenacity_backoff(fp: FakeProvider, plan: Plan) -> Contender:
    from tenacity import AsyncRetrying, stop_after_attempt, wait_random_exponential

    client = _client(fp, 0)

    async def call(model: str, prompt: str) -> Any:
        async for attempt in AsyncRetrying(
            wait=wait_random_exponential(min=1, max=60), stop=stop_after_attempt(6), reraise=True
        ):
            with attempt:
                return await client.chat.completions.create(
                    model=model, messages=_messages(prompt), max_tokens=MAX_TOKENS
                )
        raise AssertionError("unreachable")

    return Contender("tenacity", call, client.close)


def langchain_ratelimiter(fp: FakeProvider, plan: Plan) -> Contender:
    from langchain_core.rate_limiters import InMemoryRateLimiter
    from langchain_openai import ChatOpenAI

    limiter = InMemoryRateLimiter(requests_per_second=plan.rpm / 60.0, check_every_n_seconds=0.01)
    models: dict[str, Any] = {}

    def chat(model: str) -> Any:
        if model not in models:
            models[model] = ChatOpenAI(
                model=model,
                base_url=fp.base_url + "/v1",
                api_key="sk-bench",  # type: ignore[arg-type]
                max_tokens=MAX_TOKENS,  # type: ignore[call-arg]
                max_retries=0,
                rate_limiter=limiter if model == MODEL else None,
            ).with_retry(stop_after_attempt=6)
        return models[model]

    async def call(model: str, prompt: str) -> Any:
        return await chat(model).ainvoke(prompt)

    return Contender("langchain-ratelimiter", call)


def litellm_router(fp: FakeProvider, plan: Plan) -> Contender:
    import litellm

    litellm.suppress_debug_info = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    def deployment(model: str, limited: bool) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": "openai/" + model,
            "api_base": fp.base_url + "/v1",
            "api_key": "sk-bench",
        }
        if limited:
            params["rpm"] = plan.rpm
            if plan.tpm:
                params["tpm"] = plan.tpm
        return {"model_name": model, "litellm_params": params}

    router = litellm.Router(
        model_list=[deployment(MODEL, True), deployment(WARMUP_MODEL, False)],
        routing_strategy="usage-based-routing-v2",
        num_retries=2,
    )

    async def call(model: str, prompt: str) -> Any:
        return await router.acompletion(
            model=model, messages=_messages(prompt), max_tokens=MAX_TOKENS
        )

    return Contender("litellm-router", call)


CONTENDERS: dict[str, Callable[[FakeProvider, Plan], Contender]] = {
    "resilience-configured": configured,
    "resilience-adaptive": adaptive,
    "resilience-adaptive-adapter": adaptive_adapter,
    "openai-sdk": openai_sdk,
    "tenacity": tenacity_backoff,
    "langchain-ratelimiter": langchain_ratelimiter,
    "litellm-router": litellm_router,
}


async def _measure_one(
    make: Callable[[FakeProvider, Plan], Contender], plan: Plan
) -> dict[str, Any]:
    work = prompts(plan.calls)
    async with FakeProvider(rpm=plan.rpm, tpm=plan.tpm, latency=LATENCY, seed=SEED) as fp:
        contender = make(fp, plan)
        for _ in range(3):  # imports, connections: not part of the figures
            await contender.call(WARMUP_MODEL, "warm up")
        warm = len(fp.requests)
        queue = iter(work)
        latencies: list[float] = []
        failures: dict[str, int] = {}
        errors: list[str] = []

        async def caller() -> None:
            for prompt in queue:
                started = time.perf_counter()
                try:
                    await contender.call(MODEL, prompt)
                    latencies.append(time.perf_counter() - started)
                except Exception as exc:
                    kind = type(exc).__name__
                    failures[kind] = failures.get(kind, 0) + 1
                    if len(errors) < 3:
                        errors.append(f"{kind}: {str(exc)[:120]}")

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(caller()) for _ in range(plan.callers)]
        _, pending = await asyncio.wait(tasks, timeout=plan.give_up)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = time.perf_counter() - t0
        await contender.close()
        records = fp.requests[warm:]
    ok = len(latencies)
    sent = len(records)
    throttled = sum(1 for r in records if r.status == 429)
    unfinished = plan.calls - ok - sum(failures.values())
    limit_rps = plan.rpm / 60.0
    return {
        "contender": contender.name,
        "seconds": round(elapsed, 2),
        "ideal_s": round(plan.ideal, 2),
        "pct_of_limit": round(100.0 * ok / elapsed / limit_rps, 1),
        "requests_sent": sent,
        "429s": throttled,
        "429_pct": round(100.0 * throttled / sent, 2) if sent else 0.0,
        "failed": sum(failures.values()) + unfinished,
        "p50_s": round(percentile(latencies, 0.5) or 0.0, 3),
        "p99_s": round(percentile(latencies, 0.99) or 0.0, 3),
        "failures": {**failures, **({"unfinished": unfinished} if unfinished else {})},
        "sample_errors": errors,
    }


async def measure(quick: bool = False, only: list[str] | None = None) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    rows: list[dict[str, Any]] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, make in CONTENDERS.items():
            if only and name not in only:
                continue
            rows.append(await _measure_one(make, plan))
    return {
        "rows": rows,
        "plan": {
            "rpm": plan.rpm,
            "tpm": plan.tpm,
            "calls": plan.calls,
            "callers": plan.callers,
            "ideal_s": plan.ideal,
            "provider_latency_s": LATENCY,
            "max_tokens": MAX_TOKENS,
            "retry_attempts": RETRIES,
            "quick": quick,
        },
        "goals": {
            "resilience-configured": {"pct_of_limit_min": 97, "429_pct_max": 0.5, "failed": 0},
            "resilience-adaptive": {"pct_of_limit_min": 90, "429_pct_max": 5, "failed": 0},
            "resilience-adaptive-adapter": {
                "pct_of_limit_min": 90,
                "429_pct_max": 5,
                "failed": 0,
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="400 calls at 200/s")
    parser.add_argument("--only", default="", help=f"subset of: {', '.join(CONTENDERS)}")
    args = parser.parse_args()
    only = [n.strip() for n in args.only.split(",") if n.strip()] or None
    result = asyncio.run(measure(quick=args.quick, only=only))
    columns = [
        "contender",
        "seconds",
        "ideal_s",
        "pct_of_limit",
        "requests_sent",
        "429s",
        "429_pct",
        "failed",
        "p50_s",
        "p99_s",
    ]
    rows = [{k: r[k] for k in columns} | {"failures": r["failures"]} for r in result["rows"]]
    emit("goodput", rows, plan=result["plan"], goals=result["goals"])


if __name__ == "__main__":
    main()
