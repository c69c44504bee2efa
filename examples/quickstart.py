"""The README's quick start, runnable: a Pipeline around the real openai SDK.

    python examples/quickstart.py                 # against a local fake provider
    OPENAI_API_KEY=sk-... python examples/quickstart.py --real

Against the fake provider, the first two requests fail (a 429, then a 503) so you can see the
pipeline absorb them.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from openai import AsyncOpenAI

from resilience import (
    Call,
    CircuitBreaker,
    Fallback,
    Limit,
    Pipeline,
    RateLimiter,
    Retry,
    report,
)


def build_pipeline() -> Pipeline:
    return Pipeline(
        Fallback(["openai/gpt-4o-mini"]),  # next target when this one cannot serve
        Retry(3),  # backoff with jitter, Retry-After, budget
        CircuitBreaker(),  # per provider and per provider/model
        RateLimiter({"openai": Limit(rpm=500, tpm=200_000)}),
    )


async def ask(client: AsyncOpenAI, pipeline: Pipeline, question: str) -> str:
    async def handler(call: Call) -> Any:
        raw = await client.chat.completions.with_raw_response.create(
            model=call.model, messages=call.payload, max_tokens=call.max_output_tokens
        )
        report(headers=raw.headers)  # rate-limit headers resync the limiter
        return raw.parse()

    messages = [{"role": "user", "content": question}]
    call = Call(
        "openai", "gpt-4o", input_tokens=10, max_output_tokens=50, timeout=30, payload=messages
    )
    reply = await pipeline.run(handler, call)
    return str(reply.choices[0].message.content)


async def main(real: bool = False) -> str:
    if real:
        return await ask(AsyncOpenAI(max_retries=0), build_pipeline(), "Say hello")
    from resilience.testing import FakeProvider

    async with FakeProvider() as fp:
        fp.script(None, [429, 503, 200])
        client = AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test", max_retries=0)
        answer = await ask(client, build_pipeline(), "Say hello")
        print(f"{len(fp.requests)} requests ({[r.outcome for r in fp.requests]}) -> {answer!r}")
        return answer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", action="store_true", help="call the real OpenAI API")
    asyncio.run(main(parser.parse_args().real))
