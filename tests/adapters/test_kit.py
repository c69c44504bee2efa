"""The pieces the host adapters share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from resilience.adapters._kit import (
    ResilientStream,
    WatchedStream,
    estimate_tokens,
    missing_host,
    set_usage,
)

from resilience import Call, Pipeline, current_attempt


def test_token_estimate_is_about_four_characters_per_token() -> None:
    messages = [{"role": "user", "content": "x" * 400}, {"role": "assistant", "content": "y" * 40}]
    # The role names count too: a rough reservation, never zero for real text.
    assert 110 <= estimate_tokens(messages) <= 115
    assert estimate_tokens(None) == 0
    assert estimate_tokens({"a": [1, 2, None, b"abcd"]}) == 1


def test_missing_host_names_the_extra_to_install() -> None:
    text = missing_host("litellm", "litellm")
    assert "pip install 'llm-resilience[litellm]'" in text


class Chunk:
    def __init__(self, text: str, usage: dict[str, int] | None = None) -> None:
        self.text = text
        self.usage = usage


class SdkStream:
    """Stands in for an SDK stream: iterable, closable, with a response."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self._chunks = iter(chunks)
        self.closed = False
        self.response = "the-response"

    def __aiter__(self) -> SdkStream:
        return self

    async def __anext__(self) -> Chunk:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def close(self) -> None:
        self.closed = True


async def test_stream_usage_lands_on_the_attempt_and_the_sdk_api_stays() -> None:
    sdk = SdkStream([Chunk("a"), Chunk("b", {"input_tokens": 1, "output_tokens": 2})])
    states: list[Any] = []

    async def handler(call: Call) -> AsyncIterator[Any]:
        states.append(current_attempt())
        return WatchedStream(sdk, lambda chunk, state: set_usage(state, chunk.usage))

    class Attempt:
        repeats_calls = True

        async def __call__(self, call: Call, handler: Any) -> Any:
            return await handler(call)

    call = Call("openai", "gpt-4o", features=frozenset({"stream"}))
    result = await Pipeline(Attempt()).run(handler, call)
    stream = ResilientStream(result, call)
    async with stream as s:
        assert s.response == "the-response"
        texts = [chunk.text async for chunk in s]
    assert texts == ["a", "b"]
    assert sdk.closed
    assert states[0] is not None and states[0].usage == {"input_tokens": 1, "output_tokens": 2}
