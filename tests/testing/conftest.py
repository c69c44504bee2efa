"""Clients of the real SDKs pointed at a fake provider."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import openai
import pytest_asyncio

from resilience.testing import FakeProvider

# Clients made by the helpers below, closed after each test so no socket outlives its loop.
_OPEN: list[openai.AsyncOpenAI | anthropic.AsyncAnthropic] = []


@pytest_asyncio.fixture(autouse=True)
async def _close_clients() -> AsyncIterator[None]:
    yield
    while _OPEN:
        await _OPEN.pop().close()


def openai_client(
    fp: FakeProvider, key: str = "sk-test-openai", **kw: object
) -> openai.AsyncOpenAI:
    client = openai.AsyncOpenAI(
        api_key=key,
        base_url=fp.base_url + "/v1",
        max_retries=kw.pop("max_retries", 0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    _OPEN.append(client)
    return client


def anthropic_client(
    fp: FakeProvider, key: str = "sk-test-anthropic", **kw: object
) -> anthropic.AsyncAnthropic:
    client = anthropic.AsyncAnthropic(
        api_key=key,
        base_url=fp.base_url,
        max_retries=kw.pop("max_retries", 0),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )
    _OPEN.append(client)
    return client


USER = [{"role": "user", "content": "Summarise the plot of a secret novel in one line."}]
