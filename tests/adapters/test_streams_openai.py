"""Broken OpenAI chat streams through the OpenAI adapter, the real ``openai``
client against FakeProvider: cut, stalled, truncated and corrupted streams
are continued where a target can (``continue_final_message``), and end in
``StreamInterrupted`` with the text received where none can."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from resilience.adapters.openai import resilient

from resilience import (
    CircuitBreaker,
    ConfigError,
    Event,
    FakeClock,
    Fallback,
    Pipeline,
    ProviderError,
    Retry,
    StreamInterrupted,
    StreamMalformed,
)
from resilience.testing import FakeProvider, StreamFault
from tests.adapters._support import MESSAGES, make_otel

MODEL = "llama-3-70b"
VLLM = {"continue_final_message": True, "add_generation_prompt": False}


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test-primary")
    yield c
    await c.close()


async def collect(stream: Any) -> tuple[str, list[Any]]:
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    return text, chunks


async def whole_answer(client: openai.AsyncOpenAI) -> str:
    stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    return (await collect(stream))[0]


def assert_one_seamless_answer(chunks: list[Any]) -> None:
    assert len({c.id for c in chunks}) == 1
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.role) == 1
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and finishes.count("stop") == 1


@pytest.mark.parametrize("fault", ["cut:6", "truncate:6", "malformed:6", "midstream"])
async def test_a_broken_stream_is_continued_and_the_caller_gets_the_answer_once(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock, fault: str
) -> None:
    whole = await whole_answer(client)
    events: list[Event] = []
    pipeline = Pipeline(Retry(), CircuitBreaker(), resume="continue", clock=clock)
    pipeline.subscribe(events.append)
    wrapped = resilient(client, provider="vllm", pipeline=pipeline)
    fp.script(MODEL, [fault])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    text, chunks = await collect(stream)
    assert text == whole
    assert_one_seamless_answer(chunks)
    broken, continued = fp.requests[-2:]
    assert broken.outcome == fault.split(":")[0] and continued.status == 200
    assert continued.input_tokens > broken.input_tokens  # the partial answer went back in
    malformed = [e for e in events if isinstance(e, StreamMalformed)]
    assert len(malformed) == (fault == "malformed:6")


async def test_a_stalled_stream_is_cut_by_chunk_timeout_and_continued(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    whole = await whole_answer(client)
    pipeline = Pipeline(Retry(), chunk_timeout=10, resume="continue", clock=clock)
    wrapped = resilient(client, provider="vllm", pipeline=pipeline)
    fp.script(MODEL, [StreamFault.stall(5)])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    head = [await stream.__anext__() for _ in range(5)]  # what came before the silence
    rest = asyncio.ensure_future(collect(stream))
    await clock.advance(9)
    assert not rest.done() and len(fp.requests) == 2
    await clock.advance(1)
    text, _ = await rest
    assert "".join(c.choices[0].delta.content or "" for c in head) + text == whole
    assert [r.outcome for r in fp.requests[1:]] == ["stall", 200]


async def test_openai_itself_cannot_continue_so_the_caller_gets_the_partial_text(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    whole = await whole_answer(client)
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    wrapped = resilient(client, pipeline=Pipeline(Retry(), breaker, resume="continue", clock=clock))
    fp.script(MODEL, ["cut:6"])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    error = info.value
    assert error.partial == "".join(received) and whole.startswith(error.partial)
    assert error.partial != whole  # never a truncated success
    assert error.failure.kind == "connection" and error.errors == ()
    assert len(fp.requests) == 2  # the continuation was never sent to OpenAI
    assert breaker.state(f"openai/{MODEL}") == "open"  # the break counted as an outage


async def test_a_truncated_stream_is_never_a_success_even_without_resume(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    wrapped = resilient(client, pipeline=Pipeline(clock=clock))
    fp.script(MODEL, ["truncate:6"])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    with pytest.raises(StreamInterrupted) as info:
        await collect(stream)
    assert info.value.failure.code == "stream_truncated"


async def test_a_fallback_server_continues_what_openai_started(
    fp: FakeProvider, fp2: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    whole = await whole_answer(client)
    local = openai.AsyncOpenAI(base_url=fp2.base_url + "/v1", api_key="sk-test-local")
    otel = make_otel()
    pipeline = Pipeline(
        Fallback([f"vllm/{MODEL}"]), Retry(), resume="continue", clock=clock, hooks=[otel.telemetry]
    )
    wrapped = resilient(client, clients={"vllm": local}, pipeline=pipeline)
    fp.script(MODEL, ["cut:8"])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    text, chunks = await collect(stream)
    await local.close()
    assert text == whole
    assert_one_seamless_answer(chunks)
    assert [r.outcome for r in fp2.requests] == [200]
    broken = otel.attempts()[0]
    assert (broken.attributes or {})["resilience.stream.chunks"] == 8
    (resume,) = [e for e in broken.events if e.name == "resilience.stream.resume"]
    assert (resume.attributes or {})["resilience.stream.resume.to"] == f"vllm/{MODEL}"


async def test_a_refused_continuation_never_becomes_the_callers_error(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    async with FakeProvider(clock=clock, unsupported={MODEL: {"continue"}}) as strict:
        other = openai.AsyncOpenAI(base_url=strict.base_url + "/v1", api_key="sk-test-strict")
        pipeline = Pipeline(Fallback([f"sglang/{MODEL}"]), resume="continue", clock=clock)
        wrapped = resilient(client, clients={"sglang": other}, pipeline=pipeline)
        fp.script(MODEL, ["cut:8"])
        stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(StreamInterrupted) as info:
            await collect(stream)
        await other.close()
    assert info.value.failure.kind == "connection"  # the cut, not the 400
    assert [t for t, _ in info.value.errors] == [f"sglang/{MODEL}"]
    assert isinstance(info.value.errors[0][1], ProviderError)
    assert [r.status for r in strict.requests] == [400]
    assert pipeline.continuations.mechanism(f"sglang/{MODEL}") is None  # learnt


async def test_a_silent_first_chunk_moves_the_call_before_commit(
    fp: FakeProvider, fp2: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    local = openai.AsyncOpenAI(base_url=fp2.base_url + "/v1", api_key="sk-test-local")
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    pipeline = Pipeline(
        Fallback([f"vllm/{MODEL}"]), Retry(1), breaker, first_chunk_timeout=3, clock=clock
    )
    wrapped = resilient(client, clients={"vllm": local}, pipeline=pipeline)
    fp.script(MODEL, ["stall:0"])  # headers, then nothing
    task = asyncio.ensure_future(
        wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    )
    while len(fp.requests) < 1:
        await asyncio.sleep(0.01)  # the request reached the server (real I/O)
    await clock.advance(3)
    text, _ = await collect(await task)
    await local.close()
    assert text and [r.outcome for r in fp2.requests] == [200]
    assert breaker.state(f"openai/{MODEL}") == "open"


@pytest.mark.parametrize("fault", ["malformed:0", "truncate:0"])
async def test_a_stream_broken_at_its_first_event_fails_over_before_commit(
    fp: FakeProvider,
    fp2: FakeProvider,
    client: openai.AsyncOpenAI,
    clock: FakeClock,
    fault: str,
) -> None:
    """An undecodable first event, or a 200 stream with no event at all, is
    a classified failure before the commit point: never a raw JSON error or
    a bare StopAsyncIteration out of create()."""
    whole = await whole_answer(client)
    local = openai.AsyncOpenAI(base_url=fp2.base_url + "/v1", api_key="sk-test-local")
    events: list[Event] = []
    pipeline = Pipeline(Fallback([f"vllm/{MODEL}"]), Retry(), clock=clock, hooks=[events.append])
    wrapped = resilient(client, clients={"vllm": local}, pipeline=pipeline)
    fp.script(MODEL, [fault])
    stream = await wrapped.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
    text, chunks = await collect(stream)
    await local.close()
    assert text == whole
    assert_one_seamless_answer(chunks)
    assert [r.outcome for r in fp.requests[1:]] == [fault.split(":")[0]]
    assert [r.outcome for r in fp2.requests] == [200]
    malformed = [e for e in events if isinstance(e, StreamMalformed)]
    assert len(malformed) == (fault == "malformed:0")


def test_stream_settings_go_to_the_pipeline_the_adapter_builds(client: openai.AsyncOpenAI) -> None:
    wrapped = resilient(client, first_chunk_timeout=5, chunk_timeout=20, resume="continue")
    assert wrapped.pipeline.first_chunk_timeout == 5
    assert wrapped.pipeline.chunk_timeout == 20 and wrapped.pipeline.resume == "continue"
    with pytest.raises(ConfigError, match="chunk_timeout"):
        resilient(client, pipeline=Pipeline(), chunk_timeout=20)
