"""The Anthropic SDK adapter, with the real ``anthropic`` client against FakeProvider."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import pytest
from anthropic.types import Message
from resilience.adapters.anthropic import SUPPORTED, resilient

from resilience import CallEnded, Degraded, FakeClock, Pipeline, ProviderError, RateLimitWait
from resilience._breaker import CircuitBreaker
from resilience._fallback import Fallback
from resilience._limiter import RateLimiter
from resilience._retry import Retry
from resilience.testing._fake_provider import FakeProvider
from tests.adapters._support import ANTHROPIC_TOOLS, MESSAGES, Otel, drive, gather_driven, of_type

HAIKU = "claude-haiku-4-5"
SONNET = "claude-sonnet-4-5"  # cannot take tools on the primary fake provider


@pytest.fixture
async def client(fp: FakeProvider) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(base_url=fp.base_url, api_key="sk-ant-test-primary")
    yield c
    await c.close()


def create(wrapped: Any, model: str = HAIKU, **kw: Any) -> Any:
    return wrapped.messages.create(model=model, max_tokens=64, messages=MESSAGES, **kw)


def test_supported_versions_match_the_extra() -> None:
    assert SUPPORTED == "anthropic>=0.60,<3"


async def test_create_returns_the_sdks_own_message_with_retries_off(
    client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    events: list[Any] = []
    wrapped = resilient(client, pipeline=Pipeline(hooks=[events.append], clock=clock))
    result = await create(wrapped)
    assert isinstance(result, Message)
    assert result.content[0].type == "text"
    assert wrapped.client_for("anthropic").max_retries == 0
    assert client.max_retries == 2
    ended = of_type(events, CallEnded)[0]
    assert ended.usage == {
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
    }
    assert ended.call.max_output_tokens == 64


async def test_a_429_burst_is_absorbed_by_limiter_and_retry(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    fp.script(HAIKU, [429, 429, 429])
    events: list[Any] = []
    pipeline = Pipeline(
        Retry(4), CircuitBreaker(), RateLimiter(), hooks=[events.append], clock=clock
    )
    wrapped = resilient(client, pipeline=pipeline)
    results = await gather_driven(clock, [create(wrapped) for _ in range(6)])
    assert all(isinstance(r, Message) for r in results)
    assert fp.count(status=429) == 3
    assert fp.count(status=200) == 6
    assert of_type(events, RateLimitWait)


async def test_overload_trips_breaker_and_later_calls_fall_back_without_a_request(
    fp: FakeProvider,
    fp2: FakeProvider,
    client: anthropic.AsyncAnthropic,
    clock: FakeClock,
    otel: Otel,
) -> None:
    backup = anthropic.AsyncAnthropic(base_url=fp2.base_url, api_key="sk-ant-test-backup")
    fp.set_outage(529)
    pipeline = Pipeline(
        Fallback([f"backup/{HAIKU}"]),
        Retry(2),
        CircuitBreaker(failure_threshold=3),
        RateLimiter(),
        hooks=[otel.telemetry],
        clock=clock,
    )
    wrapped = resilient(client, pipeline=pipeline, clients={"backup": backup})
    for _ in range(5):
        result = await drive(clock, create(wrapped, SONNET))
        assert result.model == HAIKU
    assert len(fp.requests) == 3
    assert fp2.count(status=200) == 5
    assert otel.buckets().count("server_error") == 3
    await backup.close()


async def test_unsupported_tools_are_dropped_and_the_same_model_retried(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    events: list[Any] = []
    wrapped = resilient(client, pipeline=Pipeline(Fallback([]), hooks=[events.append], clock=clock))
    result = await create(wrapped, SONNET, tools=ANTHROPIC_TOOLS, tool_choice={"type": "auto"})
    assert [(r.model, r.status) for r in fp.requests] == [(SONNET, 400), (SONNET, 200)]
    assert all(block.type == "text" for block in result.content)
    assert [e.feature for e in of_type(events, Degraded)] == ["tools"]


async def test_spans_carry_the_failure_bucket_of_each_attempt(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock, otel: Otel
) -> None:
    fp.script(HAIKU, [529, 500])
    pipeline = Pipeline(Retry(3), RateLimiter(), hooks=[otel.telemetry], clock=clock)
    await drive(clock, create(resilient(client, pipeline=pipeline)))
    assert otel.buckets() == ["server_error", "server_error", None]
    kinds = [(s.attributes or {}).get("resilience.failure.kind") for s in otel.attempts()]
    assert kinds == ["overloaded", "server", None]


async def test_stream_is_retried_before_its_first_event_and_reports_usage(
    fp: FakeProvider, client: anthropic.AsyncAnthropic, clock: FakeClock
) -> None:
    fp.script(HAIKU, [503])
    events: list[Any] = []
    pipeline = Pipeline(Retry(3), RateLimiter(), hooks=[events.append], clock=clock)
    stream = await drive(clock, create(resilient(client, pipeline=pipeline), stream=True))
    kinds: list[str] = []
    text = ""
    async with stream:
        async for event in stream:
            kinds.append(event.type)
            if event.type == "content_block_delta":
                text += event.delta.text
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert text
    assert [r.status for r in fp.requests] == [503, 200]


async def test_a_model_that_cannot_stream_still_gives_the_caller_events(clock: FakeClock) -> None:
    async with FakeProvider(clock=clock, unsupported={HAIKU: {"stream"}}) as fp:
        client = anthropic.AsyncAnthropic(base_url=fp.base_url, api_key="sk-ant-test")
        wrapped = resilient(client, pipeline=Pipeline(Fallback([]), clock=clock))
        stream = await create(wrapped, stream=True)
        kinds = [event.type async for event in stream]
        await client.close()
    assert [r.status for r in fp.requests] == [400, 200]
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds


async def test_a_request_error_is_raised_classified_and_not_retried(
    client: anthropic.AsyncAnthropic, fp: FakeProvider, clock: FakeClock
) -> None:
    fp.script(HAIKU, [400])
    with pytest.raises(ProviderError) as info:
        await create(resilient(client, pipeline=Pipeline(Retry(3), clock=clock)))
    assert info.value.failure.bucket == "client_error"
    assert isinstance(info.value.__cause__, anthropic.BadRequestError)
    assert len(fp.requests) == 1
