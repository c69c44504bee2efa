"""The real ``anthropic.AsyncAnthropic`` client against the fake provider's messages route."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import aiohttp
import anthropic
import pytest

from resilience.testing import FakeClock, FakeProvider
from tests.testing.conftest import USER, anthropic_client

MODEL = "claude-haiku-4-5"
TOOL = {
    "name": "lookup",
    "description": "Look something up",
    "input_schema": {
        "type": "object",
        "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
        "required": ["query"],
    },
}


async def test_message_has_the_sdk_shape_and_never_echoes_the_prompt() -> None:
    async with FakeProvider() as fp:
        m = await anthropic_client(fp).messages.create(
            model=MODEL,
            max_tokens=256,
            messages=USER,  # type: ignore[arg-type]
        )
    assert m.type == "message" and m.role == "assistant" and m.model == MODEL
    assert m.stop_reason == "end_turn"
    block = m.content[0]
    assert block.type == "text" and block.text and "secret" not in block.text
    assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0


async def test_stream_gives_the_same_text_as_the_sdk_assembles_it() -> None:
    async with FakeProvider() as fp:
        client = anthropic_client(fp)
        async with client.messages.stream(
            model=MODEL,
            max_tokens=256,
            messages=USER,  # type: ignore[arg-type]
        ) as stream:
            deltas = [t async for t in stream.text_stream]
            final = await stream.get_final_message()
    assert len(deltas) > 3
    assert final.content[0].type == "text" and final.content[0].text == "".join(deltas)
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == len(deltas)


async def test_raw_stream_follows_anthropics_event_sequence() -> None:
    async with FakeProvider() as fp, aiohttp.ClientSession() as http:
        resp = await http.post(
            fp.base_url + "/v1/messages",
            json={"model": MODEL, "max_tokens": 50, "stream": True, "messages": USER},
            headers={"x-api-key": "sk-test", "anthropic-version": "2023-06-01"},
        )
        raw = (await resp.read()).decode()
    assert resp.headers["content-type"].startswith("text/event-stream")
    events = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert events[:3] == ["message_start", "content_block_start", "ping"]
    assert events[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(events[3:-3]) == {"content_block_delta"}


async def test_tool_use_block_is_parsed_by_the_sdk() -> None:
    async with FakeProvider() as fp:
        m = await anthropic_client(fp).messages.create(
            model=MODEL,
            max_tokens=256,
            messages=USER,  # type: ignore[arg-type]
            tools=[TOOL],  # type: ignore[list-item]
        )
    assert m.stop_reason == "tool_use"
    block = m.content[-1]
    assert block.type == "tool_use" and block.name == "lookup" and block.id.startswith("toolu_")
    assert isinstance(block.input, dict) and isinstance(block.input["query"], str)


async def test_streamed_tool_use_input_assembles() -> None:
    async with (
        FakeProvider() as fp,
        anthropic_client(fp).messages.stream(
            model=MODEL,
            max_tokens=256,
            messages=USER,  # type: ignore[arg-type]
            tools=[TOOL],  # type: ignore[list-item]
        ) as stream,
    ):
        final = await stream.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use" and isinstance(block.input, dict) and "limit" in block.input


async def test_structured_output_answers_json_text() -> None:
    async with FakeProvider() as fp, aiohttp.ClientSession() as http:
        resp = await http.post(
            fp.base_url + "/v1/messages",
            json={
                "model": MODEL,
                "max_tokens": 50,
                "messages": USER,
                "output_config": {
                    "format": {
                        "type": "json_schema",
                        "schema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
                    }
                },
            },
        )
        body = await resp.json()
    assert isinstance(json.loads(body["content"][0]["text"])["ok"], bool)


async def test_burst_gets_rate_limit_error_with_anthropic_headers() -> None:
    async with FakeProvider(rpm=120, tpm=100_000, clock=FakeClock()) as fp:
        client = anthropic_client(fp)
        results = await asyncio.gather(
            *(
                client.messages.with_raw_response.create(
                    model=MODEL,
                    max_tokens=100,
                    messages=USER,  # type: ignore[arg-type]
                )
                for _ in range(5)
            ),
            return_exceptions=True,
        )
    limited = [r for r in results if isinstance(r, anthropic.RateLimitError)]
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert len(ok) == 2 and len(limited) == 3
    err = limited[0]
    assert isinstance(err.body, dict) and err.body["error"]["type"] == "rate_limit_error"
    assert err.body["type"] == "error"
    h = err.response.headers
    assert int(h["retry-after"]) >= 1
    assert h["anthropic-ratelimit-requests-limit"] == "120"
    assert h["anthropic-ratelimit-requests-remaining"] == "118"
    datetime.fromisoformat(h["anthropic-ratelimit-requests-reset"])  # RFC 3339
    for prefix in ("tokens", "input-tokens", "output-tokens"):
        assert h[f"anthropic-ratelimit-{prefix}-limit"] == "100000"
    assert ok[0].headers["anthropic-ratelimit-tokens-remaining"].isdigit()  # type: ignore[union-attr]


async def test_mid_stream_error_event_reaches_the_sdk() -> None:
    async with FakeProvider() as fp:
        fp.script(None, ["midstream"])
        with pytest.raises(anthropic.APIStatusError) as info:
            async with anthropic_client(fp).messages.stream(
                model=MODEL,
                max_tokens=256,
                messages=USER,  # type: ignore[arg-type]
            ) as stream:
                async for _ in stream.text_stream:
                    pass
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "overloaded_error"


async def test_529_outage_is_overloaded_error() -> None:
    async with FakeProvider() as fp:
        fp.set_outage(529)
        with pytest.raises(anthropic.APIStatusError) as info:
            await anthropic_client(fp).messages.create(
                model=MODEL,
                max_tokens=10,
                messages=USER,  # type: ignore[arg-type]
            )
        fp.set_outage(None)
        await anthropic_client(fp).messages.create(
            model=MODEL,
            max_tokens=10,
            messages=USER,  # type: ignore[arg-type]
        )
    assert info.value.status_code == 529
    assert isinstance(info.value.body, dict)
    assert info.value.body["error"]["type"] == "overloaded_error"
    assert [r.outcome for r in fp.requests] == [529, 200]


async def test_unsupported_tools_is_an_invalid_request_error() -> None:
    async with FakeProvider(unsupported={MODEL: {"tools"}}) as fp:
        with pytest.raises(anthropic.BadRequestError) as info:
            await anthropic_client(fp).messages.create(
                model=MODEL,
                max_tokens=10,
                messages=USER,  # type: ignore[arg-type]
                tools=[TOOL],  # type: ignore[list-item]
            )
    body = info.value.body
    assert isinstance(body, dict) and body["error"]["type"] == "invalid_request_error"
    assert "does not support tools" in body["error"]["message"]


async def test_missing_max_tokens_is_a_400_like_anthropics() -> None:
    async with FakeProvider() as fp, aiohttp.ClientSession() as http:
        resp = await http.post(
            fp.base_url + "/v1/messages", json={"model": MODEL, "messages": USER}
        )
        body = await resp.json()
    assert resp.status == 400 and body["error"]["message"] == "max_tokens: Field required"


async def test_connection_reset_is_an_api_connection_error() -> None:
    async with FakeProvider() as fp:
        fp.script(MODEL, ["reset"])
        with pytest.raises(anthropic.APIConnectionError):
            await anthropic_client(fp).messages.create(
                model=MODEL,
                max_tokens=10,
                messages=USER,  # type: ignore[arg-type]
            )
    assert fp.count("reset") == 1 and fp.requests[0].status == 0
