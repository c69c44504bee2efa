"""The OpenAI SDK adapter, with the real ``openai`` client against FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion
from resilience.adapters.openai import SUPPORTED, ResilientAsyncOpenAI, resilient

from resilience import (
    CallEnded,
    ConfigError,
    Degraded,
    FakeClock,
    Pipeline,
    ProviderError,
    RateLimitWait,
)
from resilience._breaker import CircuitBreaker
from resilience._fallback import Fallback
from resilience._limiter import RateLimiter
from resilience._retry import Retry
from resilience.testing._fake_provider import FakeProvider
from tests.adapters._support import MESSAGES, TOOLS, Otel, drive, gather_driven, of_type


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[openai.AsyncOpenAI]:
    c = openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test-primary")
    yield c
    await c.close()


def test_supported_versions_match_the_extra() -> None:
    assert SUPPORTED == "openai>=1.99,<4"


async def test_create_returns_the_sdks_own_completion_with_retries_off(
    client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    events: list[Any] = []
    wrapped = resilient(client, pipeline=Pipeline(hooks=[events.append], clock=clock))
    result = await wrapped.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, max_tokens=50
    )
    assert isinstance(result, ChatCompletion)
    assert result.choices[0].message.content
    assert wrapped.client_for("openai").max_retries == 0
    assert client.max_retries == 2  # the caller's own client is untouched
    ended = of_type(events, CallEnded)[0]
    assert ended.usage == {
        "input_tokens": result.usage.prompt_tokens,
        "output_tokens": result.usage.completion_tokens,
    }
    assert ended.call.max_output_tokens == 50
    # Everything else is the original client.
    models = await wrapped.models.list()
    assert any(m.id == "gpt-4o-mini" for m in models.data)


async def test_a_429_burst_is_absorbed_by_limiter_and_retry(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [429, 429, 429])
    events: list[Any] = []
    pipeline = Pipeline(
        Retry(4), CircuitBreaker(), RateLimiter(), hooks=[events.append], clock=clock
    )
    wrapped = resilient(client, pipeline=pipeline)
    results = await gather_driven(
        clock,
        [wrapped.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES) for _ in range(6)],
    )
    assert all(isinstance(r, ChatCompletion) for r in results)
    assert fp.count(status=429) == 3
    assert fp.count(status=200) == 6
    assert of_type(events, RateLimitWait), "the limiter held calls after the 429s"


async def test_outage_trips_breaker_and_later_calls_fall_back_without_a_request(
    fp: FakeProvider, fp2: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock, otel: Otel
) -> None:
    backup = openai.AsyncOpenAI(base_url=fp2.base_url + "/v1", api_key="sk-test-backup")
    fp.set_outage(503)
    pipeline = Pipeline(
        Fallback(["backup/gpt-4o-mini"]),
        Retry(2),
        CircuitBreaker(failure_threshold=3),
        RateLimiter(),
        hooks=[otel.telemetry],
        clock=clock,
    )
    wrapped = resilient(client, pipeline=pipeline, clients={"backup": backup})
    for _ in range(6):
        result = await drive(
            clock, wrapped.chat.completions.create(model="gpt-4o", messages=MESSAGES)
        )
        assert result.model == "gpt-4o-mini"
    # Two tries on the first call, one on the second trips it; then no request at all.
    assert len(fp.requests) == 3
    assert fp2.count(status=200) == 6
    assert otel.buckets().count("server_error") == 3
    await backup.close()


async def test_unsupported_tools_are_dropped_and_the_same_model_retried(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    events: list[Any] = []
    pipeline = Pipeline(Fallback([]), RateLimiter(), hooks=[events.append], clock=clock)
    wrapped = resilient(client, pipeline=pipeline)
    result = await wrapped.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, tools=TOOLS, tool_choice="auto"
    )
    assert [(r.model, r.status) for r in fp.requests] == [("gpt-4o", 400), ("gpt-4o", 200)]
    assert not result.choices[0].message.tool_calls
    assert [(e.target, e.feature) for e in of_type(events, Degraded)] == [
        ("openai/gpt-4o", "tools")
    ]


async def test_spans_carry_the_failure_bucket_of_each_attempt(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock, otel: Otel
) -> None:
    fp.script("gpt-4o-mini", [503, 429])
    pipeline = Pipeline(Retry(3), RateLimiter(), hooks=[otel.telemetry], clock=clock)
    wrapped = resilient(client, pipeline=pipeline)
    await drive(clock, wrapped.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES))
    assert otel.buckets() == ["server_error", "auth_quota", None]
    statuses = [(s.attributes or {}).get("http.response.status_code") for s in otel.attempts()]
    assert statuses[:2] == [503, 429]


async def test_stream_is_retried_before_its_first_chunk_and_reports_usage(
    fp: FakeProvider, client: openai.AsyncOpenAI, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [503])
    events: list[Any] = []
    pipeline = Pipeline(Retry(3), RateLimiter(), hooks=[events.append], clock=clock)
    wrapped = resilient(client, pipeline=pipeline)
    stream = await drive(
        clock,
        wrapped.chat.completions.create(
            model="gpt-4o-mini",
            messages=MESSAGES,
            stream=True,
            stream_options={"include_usage": True},
        ),
    )
    texts: list[str] = []
    usage = None
    async with stream:
        assert stream.response.status_code == 200
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                texts.append(chunk.choices[0].delta.content)
            usage = chunk.usage or usage
    assert "".join(texts)
    assert [r.status for r in fp.requests] == [503, 200]
    assert usage is not None and usage.completion_tokens > 0


async def test_a_model_that_cannot_stream_still_gives_the_caller_a_stream(
    clock: FakeClock,
) -> None:
    async with FakeProvider(clock=clock, unsupported={"gpt-4o": {"stream"}}) as fp:
        client = openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test")
        wrapped = resilient(client, pipeline=Pipeline(Fallback([]), clock=clock))
        stream = await wrapped.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True
        )
        chunks = [chunk async for chunk in stream]
        await client.close()
    assert [r.status for r in fp.requests] == [400, 200]
    assert [r.stream for r in fp.requests] == [True, False]
    assert len(chunks) == 1 and chunks[0].choices[0].delta.content


async def test_a_request_error_is_raised_classified_and_not_retried(
    client: openai.AsyncOpenAI, fp: FakeProvider, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [400])
    wrapped = resilient(client, pipeline=Pipeline(Retry(3), clock=clock))
    with pytest.raises(ProviderError) as info:
        await wrapped.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert info.value.failure.bucket == "client_error"
    assert isinstance(info.value.__cause__, openai.BadRequestError)
    assert len(fp.requests) == 1


async def test_bad_configuration_is_refused(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(ConfigError, match="client"):
        resilient(object())
    with pytest.raises(ConfigError, match="fallbacks"):
        ResilientAsyncOpenAI(client, pipeline=Pipeline(), fallbacks=["x/y"])
    wrapped = resilient(client, pipeline=Pipeline())
    with pytest.raises(ConfigError, match="clients"):
        wrapped.client_for("groq")
