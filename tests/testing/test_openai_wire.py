"""The real ``openai.AsyncOpenAI`` client against the fake provider's OpenAI route."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from resilience.testing import FakeClock, FakeProvider
from tests.testing.conftest import USER, openai_client

MODEL = "gpt-4o-mini"
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


async def test_completion_has_the_sdk_shape_and_never_echoes_the_prompt() -> None:
    async with FakeProvider() as fp:
        client = openai_client(fp)
        r = await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        again = await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert r.object == "chat.completion" and r.model == MODEL
    text = r.choices[0].message.content
    assert text and "secret" not in text and "novel" not in text
    assert text == again.choices[0].message.content  # deterministic for the same request
    assert r.choices[0].finish_reason == "stop"
    assert r.usage is not None and r.usage.completion_tokens > 0 and r.usage.prompt_tokens > 0
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


async def test_max_tokens_caps_the_answer_with_finish_reason_length() -> None:
    async with FakeProvider() as fp:
        r = await openai_client(fp).chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            max_tokens=3,
        )
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None and r.usage.completion_tokens == 3


async def test_streaming_assembles_text_and_sends_usage_when_asked() -> None:
    async with FakeProvider() as fp:
        client = openai_client(fp)
        plain = await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        parts, usage, finish = [], None, None
        async for chunk in stream:
            assert chunk.object == "chat.completion.chunk"
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                parts.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
    assert len(parts) > 3  # several chunks, not one blob
    assert plain.choices[0].message.content is not None
    # The same request streamed differs only in the stream flags, so compare shapes.
    assert "".join(parts).endswith(".") and finish == "stop"
    assert usage is not None and usage.completion_tokens == len([p for p in parts if p])


async def test_tool_call_is_parsed_by_the_sdk_with_json_arguments() -> None:
    async with FakeProvider() as fp:
        r = await openai_client(fp).chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
        )
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather"  # type: ignore[union-attr]
    args = json.loads(call.function.arguments)  # type: ignore[union-attr]
    assert isinstance(args["city"], str) and isinstance(args["days"], int)


async def test_streamed_tool_call_arguments_assemble_to_json() -> None:
    async with FakeProvider() as fp:
        stream = await openai_client(fp).chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            stream=True,
        )
        name, args = None, ""
        async for chunk in stream:
            for choice in chunk.choices:
                for tc in choice.delta.tool_calls or []:
                    name = tc.function.name or name  # type: ignore[union-attr]
                    args += tc.function.arguments or ""  # type: ignore[union-attr]
    assert name == "get_weather" and "city" in json.loads(args)


async def test_tool_choice_none_answers_text() -> None:
    async with FakeProvider() as fp:
        r = await openai_client(fp).chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            tools=[WEATHER_TOOL],  # type: ignore[list-item]
            tool_choice="none",
        )
    assert r.choices[0].message.tool_calls is None and r.choices[0].message.content


async def test_json_mode_and_json_schema_answer_valid_json() -> None:
    schema = {
        "type": "object",
        "properties": {"title": {"type": "string"}, "score": {"type": "number"}},
        "required": ["title", "score"],
    }
    async with FakeProvider() as fp:
        client = openai_client(fp)
        obj = await client.chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            response_format={"type": "json_object"},
        )
        structured = await client.chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "review", "schema": schema},
            },
        )
    assert isinstance(json.loads(obj.choices[0].message.content or ""), dict)
    data = json.loads(structured.choices[0].message.content or "")
    assert isinstance(data["title"], str) and isinstance(data["score"], int | float)


async def test_burst_beyond_the_per_second_quota_gets_429_with_provider_body_and_headers() -> None:
    # 600 rpm is enforced as 10 per second: a burst of 30 must see refusals.
    async with FakeProvider(rpm=600, tpm=1_000_000, clock=FakeClock()) as fp:
        client = openai_client(fp)
        results = await asyncio.gather(
            *(
                client.chat.completions.with_raw_response.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
                for _ in range(30)
            ),
            return_exceptions=True,
        )
    ok = [r for r in results if not isinstance(r, BaseException)]
    limited = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert len(ok) == 10 and len(limited) == 20 and fp.count(429) == 20
    err = limited[0]
    assert err.status_code == 429
    body = err.body
    assert isinstance(body, dict) and body["code"] == "rate_limit_exceeded"
    assert body["type"] == "requests"
    assert "on requests per min (RPM): Limit 600" in body["message"]
    assert "Please try again in" in body["message"]
    h = err.response.headers
    assert int(h["retry-after"]) >= 1 and int(h["retry-after-ms"]) > 0
    assert h["x-ratelimit-limit-requests"] == "600"
    assert h["x-ratelimit-remaining-requests"] == "590"
    assert h["x-ratelimit-reset-requests"].endswith("s")
    assert h["x-ratelimit-limit-tokens"] == "1000000"
    # Success answers carry the headers too.
    success = ok[0]
    assert success.headers["x-ratelimit-limit-requests"] == "600"  # type: ignore[union-attr]
    assert int(success.headers["x-ratelimit-remaining-requests"]) < 600  # type: ignore[union-attr]


async def test_limits_are_per_api_key_and_model() -> None:
    async with FakeProvider(rpm=60, clock=FakeClock()) as fp:  # one a second each
        a, b = openai_client(fp, key="sk-test-a"), openai_client(fp, key="sk-test-b")
        await a.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        await b.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        await a.chat.completions.create(model="gpt-4o", messages=USER)  # type: ignore[arg-type]
        with pytest.raises(openai.RateLimitError):
            await a.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert [r.key for r in fp.requests] == ["sk-test-a", "sk-test-b", "sk-test-a", "sk-test-a"]
    assert "sk-test" not in repr(fp.requests[0])


async def test_mid_stream_error_reaches_the_sdk_after_some_chunks() -> None:
    async with FakeProvider() as fp:
        fp.script(MODEL, ["midstream"])
        stream = await openai_client(fp).chat.completions.create(
            model=MODEL,
            messages=USER,  # type: ignore[arg-type]
            stream=True,
        )
        seen = []
        with pytest.raises(openai.APIError, match="server had an error"):
            async for chunk in stream:
                seen.extend(c.delta.content for c in chunk.choices if c.delta.content)
    assert len(seen) >= 3 and fp.count("midstream") == 1


async def test_connection_reset_is_an_api_connection_error() -> None:
    async with FakeProvider() as fp:
        fp.script(None, ["reset", "midstream"])
        client = openai_client(fp)
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        # A non-streamed body cut short is a dropped connection too.
        with pytest.raises(openai.APIConnectionError):
            await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        ok = await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert ok.choices[0].message.content
    assert [r.outcome for r in fp.requests] == ["reset", "midstream", 200]


async def test_hang_ends_in_a_client_timeout_and_does_not_block_shutdown() -> None:
    async with FakeProvider() as fp:
        fp.script(None, ["hang", "hang"])
        client = openai_client(fp, timeout=0.2)
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        # A second hung request still open when the server closes.
        pending = asyncio.create_task(
            openai_client(fp, timeout=30).chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        )
        while fp.count("hang") < 2:
            await asyncio.sleep(0.01)
    with pytest.raises(openai.APIConnectionError):
        await asyncio.wait_for(pending, 5)


async def test_unsupported_tools_is_a_400_in_openai_wording() -> None:
    async with FakeProvider(unsupported={"o1-mini": {"tools", "stream"}}) as fp:
        client = openai_client(fp)
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(
                model="o1-mini",
                messages=USER,  # type: ignore[arg-type]
                tools=[WEATHER_TOOL],  # type: ignore[list-item]
            )
        with pytest.raises(openai.BadRequestError) as streamed:
            await client.chat.completions.create(model="o1-mini", messages=USER, stream=True)  # type: ignore[arg-type]
        plain = await client.chat.completions.create(model="o1-mini", messages=USER)  # type: ignore[arg-type]
    body = info.value.body
    assert isinstance(body, dict)
    assert body["param"] == "tools" and body["code"] == "unsupported_parameter"
    assert "does not support tools" in body["message"]
    assert isinstance(streamed.value.body, dict) and streamed.value.body["param"] == "stream"
    assert plain.choices[0].message.content


async def test_context_window_exceeded_is_a_context_length_400() -> None:
    async with FakeProvider(context_window={"small": 100}) as fp:
        with pytest.raises(openai.BadRequestError) as info:
            await openai_client(fp).chat.completions.create(
                model="small",
                messages=[{"role": "user", "content": "x" * 2000}],
            )
    body = info.value.body
    assert isinstance(body, dict) and body["code"] == "context_length_exceeded"
    assert "maximum context length is 100 tokens" in body["message"]


async def test_malformed_request_is_a_400_not_a_crash() -> None:
    async with FakeProvider() as fp:
        with pytest.raises(openai.BadRequestError):
            await openai_client(fp).chat.completions.create(model=MODEL, messages=[])
        ok = await openai_client(fp).chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert ok.choices and fp.count(400) == 1


async def test_models_list_is_served() -> None:
    async with FakeProvider(models=["alpha", "beta"]) as fp:
        page = await openai_client(fp).models.list()
    assert [m.id for m in page.data] == ["alpha", "beta"]


async def test_scripted_outcomes_come_in_order_then_normal_service_resumes() -> None:
    async with FakeProvider() as fp:
        fp.script(MODEL, [503, 429, 502, 200])
        client = openai_client(fp)
        errors = []
        for _ in range(3):
            with pytest.raises(openai.APIStatusError) as info:
                await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
            errors.append(info.value)
        for _ in range(2):
            await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
    assert [type(e) for e in errors] == [
        openai.InternalServerError,
        openai.RateLimitError,
        openai.InternalServerError,
    ]
    assert errors[2].response.headers["content-type"].startswith("text/html")
    assert [x.status for x in fp.requests] == [503, 429, 502, 200, 200]
    assert [x.reason for x in fp.requests] == ["scripted"] * 4 + ["ok"]


async def test_unsupported_json_mode_names_response_format() -> None:
    async with FakeProvider(unsupported={"m": {"json"}}) as fp:
        with pytest.raises(openai.BadRequestError) as info:
            await openai_client(fp).chat.completions.create(
                model="m",
                messages=USER,  # type: ignore[arg-type]
                response_format={"type": "json_object"},
            )
    body = info.value.body
    assert isinstance(body, dict) and body["param"] == "response_format"
    assert fp.requests[0].reason == "unsupported"


async def test_unknown_route_is_an_openai_style_404() -> None:
    async with FakeProvider() as fp:
        with pytest.raises(openai.NotFoundError) as info:
            await openai_client(fp).embeddings.create(model="m", input="x")
    assert isinstance(info.value.body, dict)
    assert info.value.body["message"] == "Invalid URL (POST /v1/embeddings)"


async def test_app_can_be_mounted_by_the_user() -> None:
    from aiohttp import web

    fp = FakeProvider(seed=5)
    runner = web.AppRunner(fp.app(), handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        client = openai.AsyncOpenAI(
            api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0
        )
        r = await client.chat.completions.create(model=MODEL, messages=USER)  # type: ignore[arg-type]
        await client.close()
    finally:
        await runner.cleanup()
    assert r.choices[0].message.content and fp.count(200) == 1
