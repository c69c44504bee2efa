"""Broken streams through ResilientLiteLLM, the real ``litellm`` against
FakeProvider: continued by ``continue_final_message`` (hosted_vllm) or a
prefill (Anthropic), LiteLLM's made-up finish on a truncated stream caught,
its mid-stream decode errors counted and classified, a stalled stream cut
by ``chunk_timeout``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from resilience.adapters.litellm import ResilientLiteLLM

from resilience import (
    CircuitBreaker,
    Event,
    FakeClock,
    Fallback,
    Pipeline,
    StreamInterrupted,
    StreamMalformed,
)
from resilience.testing import FakeProvider, StreamFault
from tests.adapters._support import MESSAGES

VLLM = "hosted_vllm/local-model"
CLAUDE = "anthropic/claude-haiku-4-5"
GPT = "openai/gpt-4o-mini"


def params(fp: FakeProvider) -> dict[str, dict[str, Any]]:
    return {
        "hosted_vllm": {"api_base": fp.base_url + "/v1", "api_key": "sk-test-vllm"},
        "openai": {"api_base": fp.base_url + "/v1", "api_key": "sk-test-openai"},
        "anthropic": {"api_base": fp.base_url, "api_key": "sk-ant-test"},
    }


async def text_of(stream: Any) -> str:
    return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])


async def whole(fp: FakeProvider, model: str) -> str:
    llm = ResilientLiteLLM(Pipeline(), params=params(fp))
    return await text_of(await llm.acompletion(model, MESSAGES, stream=True))


@pytest.mark.parametrize("model", [VLLM, CLAUDE])
@pytest.mark.parametrize("fault", ["cut:6", "truncate:6", "midstream"])
async def test_a_broken_stream_is_continued_and_the_caller_gets_the_answer_once(
    fp: FakeProvider, clock: FakeClock, model: str, fault: str
) -> None:
    expected = await whole(fp, model)
    llm = ResilientLiteLLM(Pipeline(resume="continue", clock=clock), params=params(fp))
    fp.script(None, [fault])
    assert await text_of(await llm.acompletion(model, MESSAGES, stream=True)) == expected
    assert [r.status for r in fp.requests[-2:]] == [200, 200]
    assert fp.requests[-1].input_tokens > fp.requests[-2].input_tokens  # the prefix went back


async def test_litellms_made_up_finish_on_a_truncated_stream_is_not_a_success(
    fp: FakeProvider, clock: FakeClock
) -> None:
    expected = await whole(fp, GPT)
    llm = ResilientLiteLLM(Pipeline(clock=clock), params=params(fp))
    fp.script(None, ["truncate:6"])
    received: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in await llm.acompletion(GPT, MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
            assert chunk.choices[0].finish_reason is None  # the made-up "stop" never arrives
    assert info.value.failure.code == "stream_truncated"
    assert info.value.partial == "".join(received) and expected.startswith(info.value.partial)


async def test_a_malformed_event_is_counted_and_classified_not_raised_raw(
    fp: FakeProvider, clock: FakeClock
) -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    llm = ResilientLiteLLM(Pipeline(breaker, clock=clock, hooks=[events.append]), params=params(fp))
    fp.script(None, ["malformed:6"])
    with pytest.raises(StreamInterrupted) as info:
        await text_of(await llm.acompletion(GPT, MESSAGES, stream=True))
    assert info.value.failure.code == "malformed_event"
    assert len([e for e in events if isinstance(e, StreamMalformed)]) == 1
    assert breaker.state("openai/gpt-4o-mini") == "open"


async def test_a_vllm_fallback_continues_what_openai_started(
    fp: FakeProvider, clock: FakeClock
) -> None:
    expected = await whole(fp, GPT)
    pipeline = Pipeline(Fallback([VLLM]), resume="continue", clock=clock)
    llm = ResilientLiteLLM(pipeline, params=params(fp))
    fp.script(None, ["cut:8"])
    assert await text_of(await llm.acompletion(GPT, MESSAGES, stream=True)) == expected
    assert [(r.model, r.outcome) for r in fp.requests[-2:]] == [
        ("gpt-4o-mini", "cut"),
        ("local-model", 200),
    ]


async def test_a_stalled_stream_is_cut_by_chunk_timeout_counted_and_continued(
    fp: FakeProvider, clock: FakeClock
) -> None:
    expected = await whole(fp, VLLM)
    backup = "hosted_vllm/backup-model"
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    pipeline = Pipeline(
        Fallback([backup]), breaker, chunk_timeout=10, resume="continue", clock=clock
    )
    llm = ResilientLiteLLM(pipeline, params=params(fp))
    fp.script("local-model", [StreamFault.stall(6)])
    stream = await llm.acompletion(VLLM, MESSAGES, stream=True)
    head = [await stream.__anext__() for _ in range(6)]  # what came before the silence
    rest = asyncio.ensure_future(text_of(stream))
    await clock.advance(9)
    assert not rest.done() and len(fp.requests) == 2
    await clock.advance(1)
    assert "".join(c.choices[0].delta.content or "" for c in head) + await rest == expected
    # The stall opened the model's breaker, so the backup continued the text.
    assert breaker.state(VLLM) == "open"
    assert [(r.model, r.outcome) for r in fp.requests[1:]] == [
        ("local-model", "stall"),
        ("backup-model", 200),
    ]
    assert fp.requests[-1].input_tokens > fp.requests[1].input_tokens
