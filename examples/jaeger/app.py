"""Failure-shaped LLM traffic, traced into Jaeger.

A local fake OpenAI server (``resilience.testing.FakeProvider``) throws what
real providers throw: the first calls to gpt-4o get a scripted 403 and two
503s (enough to open its circuit breaker), then a share of the requests
(``--failure-rate``) draws from the April 2026 error mix, mostly 429s. The real ``openai``
SDK calls it through a Pipeline (Fallback, Retry, CircuitBreaker) with
OpenTelemetry exporting over OTLP/HTTP.

    docker compose -f examples/jaeger/docker-compose.yml up -d
    python examples/jaeger/app.py [--calls 20] [--failure-rate 0.3] [--otlp URL]

Without ``--otlp`` the exporter follows ``OTEL_EXPORTER_OTLP_ENDPOINT``
(default ``http://localhost:4318``). Needs ``llm-resilience[otlp,openai]``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from typing import Any

import openai

from resilience import Call, CircuitBreaker, Fallback, Pipeline, ResilienceError, Retry, report
from resilience.telemetry import configure
from resilience.testing import FakeProvider

SERVICE = "resilience-example"


async def run(calls: int, failure_rate: float, endpoint: str | None) -> Counter[str]:
    telemetry = configure(service_name=SERVICE, endpoint=endpoint)
    outcomes: Counter[str] = Counter()
    profile = "requesty-2026-04"
    async with FakeProvider(profile=profile, failure_rate=failure_rate, seed=7) as fake:
        # A 403: no retry, straight to the fallback model. Two 503s: one
        # retry, then the breaker opens and later calls skip gpt-4o at no cost.
        fake.script("gpt-4o", [403, 503, 503])
        client = openai.AsyncOpenAI(
            api_key="sk-example-not-a-real-key", base_url=f"{fake.base_url}/v1", max_retries=0
        )

        async def handler(call: Call) -> Any:
            response = await client.chat.completions.create(
                model=call.model, messages=call.payload, max_tokens=call.max_output_tokens
            )
            if response.usage is not None:
                report(
                    usage={
                        "input_tokens": response.usage.prompt_tokens,
                        "output_tokens": response.usage.completion_tokens,
                    },
                    response_model=response.model,
                )
            return response.choices[0].message.content

        pipeline = Pipeline(
            Fallback(["openai/gpt-4o-mini"]),
            # failover_after=None: retry gpt-4o through the provider's Retry-After first,
            # so the trace shows retries as well as the fallback.
            Retry(3, base=0.05, cap=0.2, failover_after=None),
            CircuitBreaker(failure_threshold=2, reset_timeout=5.0),
            hooks=[telemetry],
        )
        for i in range(calls):
            call = Call(
                provider="openai",
                model="gpt-4o",
                max_output_tokens=64,
                timeout=10.0,
                payload=[{"role": "user", "content": f"Summarise ticket #{i}"}],
            )
            try:
                await pipeline.run(handler, call)
                outcomes["ok"] += 1
            except ResilienceError as exc:
                failure = exc.failure
                outcomes[failure.bucket.value if failure is not None else type(exc).__name__] += 1
        await client.close()
    # Batched spans are sent on shutdown; a short program must not skip it.
    await asyncio.to_thread(telemetry.shutdown)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="logical calls to make")
    parser.add_argument("--failure-rate", type=float, default=0.3, help="injected failures")
    parser.add_argument("--otlp", default=None, help="OTLP/HTTP base URL (Jaeger: :4318)")
    args = parser.parse_args()
    outcomes = asyncio.run(run(args.calls, args.failure_rate, args.otlp))
    print("outcomes:", dict(outcomes))
    print(f"traces sent; open http://localhost:16686 and pick the service {SERVICE!r}")


if __name__ == "__main__":
    main()
