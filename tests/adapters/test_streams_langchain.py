"""Broken streams through ResilientChatModel, real langchain-openai and
langchain-anthropic models against FakeProvider: continued by a prefill
(ChatAnthropic) or ``continue_final_message`` (ChatOpenAI on a vLLM-style
server), LangChain's closing chunk on a truncated stream refused, a stalled
stream cut by ``chunk_timeout`` and counted by the breaker."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from resilience.adapters.langchain import ResilientChatModel

from resilience import (
    CircuitBreaker,
    ConfigError,
    Event,
    FakeClock,
    Fallback,
    Pipeline,
    StreamInterrupted,
    StreamMalformed,
)
from resilience.testing import FakeProvider, StreamFault

PROMPT = [HumanMessage("Say something about resilience.")]


def gpt(fp: FakeProvider, model: str = "local-model") -> ChatOpenAI:
    return ChatOpenAI(model=model, api_key="sk-test-lc", base_url=fp.base_url + "/v1")


def claude(fp: FakeProvider) -> ChatAnthropic:
    return ChatAnthropic(
        model="claude-haiku-4-5", api_key="sk-ant-test-lc", base_url=fp.base_url, max_tokens=64
    )


async def text_of(model: Any) -> str:
    return "".join([str(chunk.content) async for chunk in model.astream(PROMPT)])


@pytest.mark.parametrize("fault", ["cut:6", "truncate:6", "malformed:6", "midstream"])
@pytest.mark.parametrize("kind", ["anthropic", "vllm"])
async def test_a_broken_stream_is_continued_and_the_caller_gets_the_answer_once(
    fp: FakeProvider, clock: FakeClock, fault: str, kind: str
) -> None:
    inner = claude(fp) if kind == "anthropic" else gpt(fp)
    expected = await text_of(inner)
    targets = None if kind == "anthropic" else ["vllm/local-model"]
    model = ResilientChatModel(
        [inner], targets=targets, pipeline=Pipeline(resume="continue", clock=clock)
    )
    fp.script(None, [fault])
    merged = None
    async for chunk in model.astream(PROMPT):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None and merged.content == expected
    assert [r.status for r in fp.requests[-2:]] == [200, 200]
    assert fp.requests[-1].input_tokens > fp.requests[-2].input_tokens


async def test_openai_cannot_continue_and_a_truncation_is_never_a_success(
    fp: FakeProvider, clock: FakeClock
) -> None:
    expected = await text_of(gpt(fp, "gpt-4o-mini"))
    events: list[Event] = []
    pipeline = Pipeline(resume="continue", clock=clock, hooks=[events.append])
    model = ResilientChatModel([gpt(fp, "gpt-4o-mini")], pipeline=pipeline)
    for fault in ("truncate:6", "malformed:6"):
        fp.script(None, [fault])
        received: list[str] = []
        with pytest.raises(StreamInterrupted) as info:
            async for chunk in model.astream(PROMPT):
                received.append(str(chunk.content))
        assert info.value.partial == "".join(received) != expected
        assert expected.startswith(info.value.partial or "-")
    assert len([e for e in events if isinstance(e, StreamMalformed)]) == 1
    assert len(fp.requests) == 3  # no continuation was ever sent to OpenAI


async def test_the_same_model_continues_first_then_the_fallback(
    fp: FakeProvider, fp2: FakeProvider, clock: FakeClock
) -> None:
    expected = await text_of(claude(fp2))
    model = ResilientChatModel(
        [claude(fp), claude(fp2)],
        targets=["anthropic/claude-haiku-4-5", "backup/claude-haiku-4-5"],
        pipeline=Pipeline(
            Fallback(["backup/claude-haiku-4-5"]),
            resume="continue",
            continuations={"backup": "prefill"},
            clock=clock,
        ),
    )
    fp.script(None, ["cut:9"])
    assert await text_of(model) == expected
    assert [r.outcome for r in fp.requests] == ["cut", 200]  # transient: the same model
    fp.script(None, ["cut:9", 503])  # and when it cannot, the next one
    assert await text_of(model) == expected
    assert [r.outcome for r in fp.requests[2:]] == ["cut", 503]
    assert [r.status for r in fp2.requests] == [200, 200]
    assert fp2.requests[-1].input_tokens > fp2.requests[0].input_tokens  # a continuation


async def test_a_stalled_stream_is_cut_by_chunk_timeout_counted_and_continued(
    fp: FakeProvider, clock: FakeClock
) -> None:
    expected = await text_of(gpt(fp))
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    model = ResilientChatModel(
        [gpt(fp), gpt(fp, "backup-model")],
        targets=["vllm/local-model", "vllm/backup-model"],
        pipeline=Pipeline(
            Fallback(["vllm/backup-model"]),
            breaker,
            chunk_timeout=10,
            resume="continue",
            clock=clock,
        ),
    )
    fp.script("local-model", [StreamFault.stall(6)])
    stream = model.astream(PROMPT).__aiter__()
    head = [str((await stream.__anext__()).content) for _ in range(6)]
    rest = asyncio.ensure_future(_text(stream))
    await clock.advance(9)
    assert not rest.done() and len(fp.requests) == 2
    await clock.advance(1)
    assert "".join(head) + await rest == expected
    # The stall opened the model's breaker, so the backup continued the text.
    assert breaker.state("vllm/local-model") == "open"
    assert [(r.model, r.outcome) for r in fp.requests[1:]] == [
        ("local-model", "stall"),
        ("backup-model", 200),
    ]
    assert fp.requests[-1].input_tokens > fp.requests[1].input_tokens


async def _text(stream: Any) -> str:
    return "".join([str(c.content) async for c in stream])


def test_stream_settings_go_to_the_default_pipeline(fp: FakeProvider) -> None:
    model = ResilientChatModel([gpt(fp)], chunk_timeout=30, resume="continue")
    assert model.resilience_pipeline.chunk_timeout == 30
    assert model.resilience_pipeline.resume == "continue"
    with pytest.raises(ConfigError, match="resume"):
        ResilientChatModel([gpt(fp)], pipeline=Pipeline(), resume="continue")
