"""Broken Anthropic message streams through the Anthropic adapter, the real
``anthropic`` client against FakeProvider: continued by a prefill where the
model takes one, with one message_start, sound block indexes and summed
output tokens; ``StreamInterrupted`` with the text received otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest
from resilience.adapters._stream_anthropic import continue_messages  # type: ignore[import-not-found]
from resilience.adapters.anthropic import resilient

from resilience import (
    CircuitBreaker,
    FakeClock,
    Fallback,
    Pipeline,
    ProviderError,
    Retry,
    StreamInterrupted,
)
from resilience._stream.wire import Continuation
from resilience.testing import FakeProvider
from tests.adapters._support import MESSAGES

HAIKU = "claude-haiku-4-5"
OPUS = "claude-opus-4-6"  # Claude 4.6 and later refuse prefills


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(base_url=fp.base_url, api_key="sk-ant-test")
    yield c
    await c.close()


def text_of(events: list[Any]) -> str:
    return "".join(
        e.delta.text
        for e in events
        if e.type == "content_block_delta" and e.delta.type == "text_delta"
    )


async def create(wrapped: Any, model: str = HAIKU) -> Any:
    return await wrapped.messages.create(
        model=model, max_tokens=200, messages=MESSAGES, stream=True
    )


async def whole_answer(client: anthropic.AsyncAnthropic) -> str:
    stream = await client.messages.create(
        model=HAIKU, max_tokens=200, messages=MESSAGES, stream=True
    )
    return text_of([e async for e in stream])


def assert_one_message(events: list[Any]) -> None:
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds.count("message_start") == 1
    assert kinds[-2:] == ["message_delta", "message_stop"] and kinds.count("message_stop") == 1
    starts = [e.index for e in events if e.type == "content_block_start"]
    assert starts == sorted(set(starts)) and starts[0] == 0
    opened: set[int] = set()
    for e in events:  # every delta and stop belongs to a block opened before it
        if e.type == "content_block_start":
            opened.add(e.index)
        elif e.type in ("content_block_delta", "content_block_stop"):
            assert e.index in opened


@pytest.mark.parametrize("fault", ["cut:7", "truncate:7", "malformed:7", "midstream"])
async def test_a_broken_stream_is_continued_by_a_prefill_into_one_message(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock, fault: str
) -> None:
    whole = await whole_answer(client)
    wrapped = resilient(client, pipeline=Pipeline(Retry(), resume="continue", clock=clock))
    fp.script(HAIKU, [fault])
    events = [e async for e in await create(wrapped)]
    assert text_of(events) == whole
    assert_one_message(events)
    assert {e.index for e in events if e.type == "content_block_delta"} == {0}
    continued = fp.requests[-1]
    # Output tokens add up what each request reported: 1 at message_start for
    # the broken one, the rest for the continuation.
    final = [e for e in events if e.type == "message_delta"][-1]
    assert final.usage.output_tokens == 1 + continued.output_tokens


async def test_a_break_after_the_block_closed_continues_in_the_next_index(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    whole = await whole_answer(client)
    wrapped = resilient(client, pipeline=Pipeline(resume="continue", clock=clock))
    fp.script(HAIKU, ["truncate:16"])  # after content_block_stop, before message_delta
    events = [e async for e in await create(wrapped)]
    assert text_of(events) == whole
    assert_one_message(events)
    assert [e.index for e in events if e.type == "content_block_start"] == [0, 1]


async def test_a_model_documented_to_refuse_prefill_is_skipped_for_one_that_takes_it(
    clock: FakeClock,
) -> None:
    async with FakeProvider(clock=clock, unsupported={OPUS: {"continue"}}) as fp:
        client = anthropic.AsyncAnthropic(base_url=fp.base_url, api_key="sk-ant-test")
        whole = await whole_answer(client)
        pipeline = Pipeline(Fallback([f"anthropic/{HAIKU}"]), resume="continue", clock=clock)
        fp.script(OPUS, ["cut:9"])
        events = [e async for e in await create(resilient(client, pipeline=pipeline), OPUS)]
        await client.close()
    assert text_of(events) == whole
    assert [(r.model, r.status) for r in fp.requests[1:]] == [(OPUS, 200), (HAIKU, 200)]


async def test_a_refused_prefill_is_learnt_and_the_caller_sees_the_original_break(
    clock: FakeClock,
) -> None:
    async with FakeProvider(clock=clock, unsupported={HAIKU: {"continue"}}) as fp:
        client = anthropic.AsyncAnthropic(base_url=fp.base_url, api_key="sk-ant-test")
        breaker = CircuitBreaker(clock=clock)
        pipeline = Pipeline(breaker, resume="continue", clock=clock)
        fp.script(HAIKU, ["midstream"])
        stream = await create(resilient(client, pipeline=pipeline))
        received: list[Any] = []
        with pytest.raises(StreamInterrupted) as info:
            async for event in stream:
                received.append(event)
        await client.close()
    error = info.value
    assert error.failure.kind == "overloaded"  # the overloaded_error event, not the 400
    assert error.partial == text_of(received) != ""
    assert [type(e).__name__ for _, e in error.errors] == ["ProviderError"]
    assert isinstance(error.errors[0][1], ProviderError)
    assert error.errors[0][1].failure.status == 400
    assert pipeline.continuations.mechanism(f"anthropic/{HAIKU}") is None
    assert [r.status for r in fp.requests] == [200, 400]


async def test_a_stalled_anthropic_stream_is_continued_after_chunk_timeout(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    whole = await whole_answer(client)
    pipeline = Pipeline(chunk_timeout=30, resume="continue", clock=clock)
    fp.script(HAIKU, ["stall:8"])
    stream = await create(resilient(client, pipeline=pipeline))
    head = [await stream.__anext__() for _ in range(7)]  # the ping is not an event
    rest = asyncio.ensure_future(_all(stream))
    await clock.advance(30)
    events = head + await rest
    assert text_of(events) == whole
    assert_one_message(events)


async def _all(stream: Any) -> list[Any]:
    return [e async for e in stream]


def test_a_prefill_leaves_out_trailing_whitespace_and_extends_the_callers_own() -> None:
    req = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 5}
    cont = Continuation("Hello there ", "prefill")
    out = continue_messages(req, cont)
    assert out["messages"][-1] == {"role": "assistant", "content": "Hello there"}
    assert cont.unsent == " " and req["messages"][-1]["role"] == "user"
    own = {"messages": [*req["messages"], {"role": "assistant", "content": "Answer:"}]}
    extended = continue_messages(own, Continuation(" 42", "prefill"))
    assert extended["messages"][-1]["content"] == "Answer: 42"
