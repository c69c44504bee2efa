"""LangChain's ChatOpenAI/ChatAnthropic and LiteLLM work against the fake by base URL alone."""

from __future__ import annotations

import os

import openai
import pytest
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from resilience.testing import FakeProvider


class Weather(BaseModel):
    city: str
    celsius: float


def _chat_openai(fp: FakeProvider, **kw: object) -> ChatOpenAI:
    return ChatOpenAI(
        model="gpt-4o-mini",
        base_url=fp.base_url + "/v1",
        api_key="sk-test-langchain",  # type: ignore[arg-type]
        max_retries=0,
        **kw,  # type: ignore[arg-type]
    )


async def test_chat_openai_invoke_and_stream() -> None:
    async with FakeProvider() as fp:
        llm = _chat_openai(fp)
        msg = await llm.ainvoke("Tell me something private.")
        chunks = [c async for c in llm.astream("Tell me something private.")]
    assert isinstance(msg.content, str) and msg.content and "private" not in msg.content
    assert msg.usage_metadata is not None and msg.usage_metadata["output_tokens"] > 0
    streamed = "".join(str(c.content) for c in chunks)
    assert len(chunks) > 3 and streamed.endswith(".")
    assert fp.count(200) == 2 and [r.stream for r in fp.requests] == [False, True]


async def test_chat_openai_tool_calls_and_structured_output() -> None:
    async with FakeProvider() as fp:
        llm = _chat_openai(fp)
        msg = await llm.bind_tools([Weather]).ainvoke("weather in Paris?")
        structured = await llm.with_structured_output(Weather).ainvoke("weather in Paris?")
    assert msg.tool_calls and msg.tool_calls[0]["name"] == "Weather"  # type: ignore[attr-defined]
    assert set(msg.tool_calls[0]["args"]) == {"city", "celsius"}  # type: ignore[attr-defined]
    assert isinstance(structured, Weather)


async def test_chat_openai_surfaces_the_429() -> None:
    async with FakeProvider() as fp:
        fp.script(None, [429])
        with pytest.raises(openai.RateLimitError):
            await _chat_openai(fp).ainvoke("hi")


async def test_chat_anthropic_invoke_and_tools() -> None:
    async with FakeProvider() as fp:
        llm = ChatAnthropic(
            model_name="claude-haiku-4-5",
            base_url=fp.base_url,
            api_key="sk-test-langchain",  # type: ignore[arg-type]
            max_retries=0,
            max_tokens_to_sample=200,
            timeout=10,
            stop=None,
        )
        msg = await llm.ainvoke("hello")
        tool_msg = await llm.bind_tools([Weather]).ainvoke("weather?")
    assert isinstance(msg.content, str) and msg.content
    assert tool_msg.tool_calls and tool_msg.tool_calls[0]["name"] == "Weather"  # type: ignore[attr-defined]


async def test_litellm_openai_and_anthropic_routes() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch
    import litellm

    async with FakeProvider() as fp:
        o = await litellm.acompletion(
            model="openai/gpt-4o-mini",
            api_base=fp.base_url + "/v1",
            api_key="sk-test-litellm",
            messages=[{"role": "user", "content": "hi"}],
        )
        a = await litellm.acompletion(
            model="anthropic/claude-haiku-4-5",
            api_base=fp.base_url,
            api_key="sk-test-litellm",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=50,
        )
        fp.script(None, [429])
        with pytest.raises(litellm.RateLimitError):
            await litellm.acompletion(
                model="openai/gpt-4o-mini",
                api_base=fp.base_url + "/v1",
                api_key="sk-test-litellm",
                messages=[{"role": "user", "content": "hi"}],
                num_retries=0,
            )
    assert o.choices[0].message.content and a.choices[0].message.content  # type: ignore[union-attr]
    assert [r.endpoint for r in fp.requests[:2]] == ["/v1/chat/completions", "/v1/messages"]
