"""The LangChain adapter: ResilientChatModel over the real ChatOpenAI and
ChatAnthropic, the callback handler and the rate limiter, against FakeProvider."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import AIMessage
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from resilience.adapters.langchain import (
    SUPPORTED,
    ResilienceCallbackHandler,
    ResilienceRateLimiter,
    ResilientChatModel,
    target_of,
)

from resilience import (
    CircuitOpenError,
    ConfigError,
    Degraded,
    FakeClock,
    Pipeline,
    ProviderError,
    RateLimitWait,
)
from resilience._breaker import CircuitBreaker
from resilience._fallback import Fallback
from resilience._limiter import Limit, RateLimiter
from resilience._retry import Retry
from resilience.testing._fake_provider import FakeProvider
from tests.adapters._support import Otel, drive, of_type

PROMPT = "Say something about resilience."


class Weather(BaseModel):
    """Weather in a city."""

    city: str


def gpt(fp: FakeProvider, model: str = "gpt-4o-mini", **kw: Any) -> ChatOpenAI:
    return ChatOpenAI(model=model, api_key="sk-test-lc", base_url=fp.base_url + "/v1", **kw)


def claude(fp: FakeProvider, model: str = "claude-haiku-4-5", **kw: Any) -> ChatAnthropic:
    return ChatAnthropic(
        model=model, api_key="sk-ant-test-lc", base_url=fp.base_url, max_tokens=64, **kw
    )


def test_supported_versions_match_the_extra() -> None:
    assert SUPPORTED == "langchain-core>=1.0,<1.8"


# -- ResilientChatModel -------------------------------------------------------------------


async def test_inner_models_are_targets_with_their_sdk_retries_off(
    fp: FakeProvider, clock: FakeClock
) -> None:
    primary = gpt(fp, max_retries=5)
    model = ResilientChatModel([primary, claude(fp)], pipeline=Pipeline(clock=clock))
    assert list(model._inner) == ["openai/gpt-4o-mini", "anthropic/claude-haiku-4-5"]
    assert model._inner["openai/gpt-4o-mini"].max_retries == 0
    assert model._inner["anthropic/claude-haiku-4-5"].max_retries == 0
    assert primary.max_retries == 5  # the caller's model is untouched
    fp.script("gpt-4o-mini", [503])
    with pytest.raises(ProviderError):
        await model.ainvoke(PROMPT)
    assert len(fp.requests) == 1, "no hidden SDK retry"


async def test_a_429_burst_is_absorbed(fp: FakeProvider, clock: FakeClock) -> None:
    fp.script("gpt-4o-mini", [429, 429, 429])
    events: list[Any] = []
    pipeline = Pipeline(
        Retry(4), CircuitBreaker(), RateLimiter(), hooks=[events.append], clock=clock
    )
    model = ResilientChatModel([gpt(fp)], pipeline=pipeline)
    answers = await drive(clock, model.abatch([PROMPT] * 6))
    assert all(isinstance(a, AIMessage) and a.content for a in answers)
    assert fp.count(status=429) == 3 and fp.count(status=200) == 6
    assert of_type(events, RateLimitWait)


async def test_outage_trips_breaker_and_falls_back_to_another_provider_without_requests(
    fp: FakeProvider, fp2: FakeProvider, clock: FakeClock, otel: Otel
) -> None:
    fp.set_outage(503)
    pipeline = Pipeline(
        Fallback(["anthropic/claude-haiku-4-5"]),
        Retry(2),
        CircuitBreaker(failure_threshold=3),
        RateLimiter(),
        hooks=[otel.telemetry],
        clock=clock,
    )
    model = ResilientChatModel([gpt(fp, "gpt-4o"), claude(fp2)], pipeline=pipeline)
    for _ in range(5):
        answer = await drive(clock, model.ainvoke(PROMPT))
        assert answer.response_metadata["model_name"] == "claude-haiku-4-5"
    assert len(fp.requests) == 3
    assert fp2.count(status=200) == 5
    assert otel.buckets().count("server_error") == 3


async def test_default_pipeline_falls_back_over_the_models(
    fp: FakeProvider, fp2: FakeProvider
) -> None:
    model = ResilientChatModel([gpt(fp), claude(fp2)])
    names = [type(m).__name__ for m in model.resilience_pipeline.middlewares]
    assert names == ["Fallback", "Retry", "CircuitBreaker", "RateLimiter"]
    fp.script("gpt-4o-mini", [401])  # not retryable, but another provider may serve
    answer = await model.ainvoke(PROMPT)
    assert answer.response_metadata["model_name"] == "claude-haiku-4-5"


async def test_bind_tools_and_structured_output_work_through_the_pipeline(
    fp: FakeProvider, fp2: FakeProvider, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [503])
    model = ResilientChatModel(
        [gpt(fp), claude(fp2)],
        pipeline=Pipeline(Fallback(["anthropic/claude-haiku-4-5"]), clock=clock),
    )
    answer = await model.bind_tools([Weather]).ainvoke("Weather in Paris?")
    # Served by the fallback, which got the tools in Anthropic's format.
    assert answer.tool_calls and answer.tool_calls[0]["name"] == "Weather"
    assert answer.response_metadata["model_name"] == "claude-haiku-4-5"
    parsed = await model.with_structured_output(Weather).ainvoke("Weather in Paris?")
    assert isinstance(parsed, Weather)


async def test_unsupported_tools_are_dropped_and_the_model_retried(
    fp: FakeProvider, clock: FakeClock
) -> None:
    events: list[Any] = []
    model = ResilientChatModel(
        [gpt(fp, "gpt-4o")], pipeline=Pipeline(Fallback([]), hooks=[events.append], clock=clock)
    )
    answer = await model.bind_tools([Weather]).ainvoke("Weather in Paris?")
    assert not answer.tool_calls and answer.content
    assert [(r.model, r.status) for r in fp.requests] == [("gpt-4o", 400), ("gpt-4o", 200)]
    assert [e.feature for e in of_type(events, Degraded)] == ["tools"]


async def test_spans_carry_the_failure_bucket(
    fp: FakeProvider, clock: FakeClock, otel: Otel
) -> None:
    fp.script("claude-haiku-4-5", [529, 429])
    pipeline = Pipeline(Retry(3), RateLimiter(), hooks=[otel.telemetry], clock=clock)
    model = ResilientChatModel([claude(fp)], pipeline=pipeline)
    await drive(clock, model.ainvoke(PROMPT))
    assert otel.buckets() == ["server_error", "auth_quota", None]


async def test_astream_retries_only_before_the_first_chunk(
    fp: FakeProvider, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [503])
    model = ResilientChatModel([gpt(fp)], pipeline=Pipeline(Retry(3), clock=clock))

    async def collect() -> list[Any]:
        return [chunk async for chunk in model.astream(PROMPT)]

    chunks = await drive(clock, collect())
    assert len(chunks) > 2
    assert "".join(str(c.content) for c in chunks)
    assert [r.status for r in fp.requests] == [503, 200]
    assert all(r.stream for r in fp.requests)


async def test_a_model_that_cannot_stream_still_streams_to_the_caller(clock: FakeClock) -> None:
    async with FakeProvider(clock=clock, unsupported={"gpt-4o": {"stream"}}) as fp:
        model = ResilientChatModel(
            [gpt(fp, "gpt-4o")], pipeline=Pipeline(Fallback([]), clock=clock)
        )
        chunks = [chunk async for chunk in model.astream(PROMPT)]
    assert [r.stream for r in fp.requests] == [True, False]
    assert chunks and "".join(str(c.content) for c in chunks)


async def test_sync_invoke_runs_the_pipeline_on_its_own_loop(fp: FakeProvider) -> None:
    model = ResilientChatModel([gpt(fp)], pipeline=Pipeline())
    answer = await asyncio.to_thread(model.invoke, PROMPT)
    assert isinstance(answer, AIMessage) and answer.content


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="models"):
        ResilientChatModel([])
    with pytest.raises(ConfigError, match="models"):
        ResilientChatModel(["not a model"])
    a = ChatOpenAI(model="gpt-4o", api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    b = ChatOpenAI(model="gpt-4o", api_key="sk-y", base_url="http://127.0.0.1:8/v1")
    with pytest.raises(ConfigError, match="targets"):
        ResilientChatModel([a, b])
    named = ResilientChatModel([a, b], targets=["east/gpt-4o", "west/gpt-4o"])
    assert list(named._inner) == ["east/gpt-4o", "west/gpt-4o"]
    assert target_of(a) == "openai/gpt-4o"


# -- ResilienceCallbackHandler -----------------------------------------------------------


async def test_callback_handler_rejects_while_the_breaker_is_open(
    fp: FakeProvider, clock: FakeClock, otel: Otel
) -> None:
    handler = ResilienceCallbackHandler(
        breaker=CircuitBreaker(failure_threshold=2),
        hooks=[otel.telemetry],
        clock=clock,
        raise_error=True,
    )
    model = gpt(fp, "gpt-4o", max_retries=0, callbacks=[handler])
    fp.set_outage(503)
    for _ in range(2):
        with pytest.raises(Exception, match="503"):
            await model.ainvoke(PROMPT)
    with pytest.raises(CircuitOpenError):
        await model.ainvoke(PROMPT)
    assert len(fp.requests) == 2, "the third call was rejected before any request"
    assert otel.buckets()[:2] == ["server_error", "server_error"]
    assert handler.open_calls == 0


async def test_callback_handler_holds_the_next_call_after_a_429(
    fp: FakeProvider, clock: FakeClock
) -> None:
    events: list[Any] = []
    handler = ResilienceCallbackHandler(hooks=[events.append], clock=clock, raise_error=True)
    model = gpt(fp, max_retries=0, callbacks=[handler])
    fp.script("gpt-4o-mini", [429])
    with pytest.raises(Exception, match="429"):
        await model.ainvoke(PROMPT)
    held = asyncio.ensure_future(model.ainvoke(PROMPT))
    await asyncio.sleep(0.05)
    assert not held.done() and len(fp.requests) == 1
    answer = await drive(clock, held)
    assert answer.content
    assert of_type(events, RateLimitWait)
    ended = [e for e in events if type(e).__name__ == "CallEnded"]
    assert ended[-1].usage and ended[-1].usage["output_tokens"] > 0
    await handler.aclose()


# -- ResilienceRateLimiter ---------------------------------------------------------------


async def test_rate_limiter_paces_a_models_calls(fp: FakeProvider, clock: FakeClock) -> None:
    limiter = RateLimiter(Limit(rpm=60), clock=clock)
    rate_limiter = ResilienceRateLimiter(limiter, provider="openai", model="gpt-4o-mini")
    model = gpt(fp, rate_limiter=rate_limiter)
    calls = [asyncio.ensure_future(model.ainvoke(PROMPT)) for _ in range(3)]
    await asyncio.wait(calls, return_when=asyncio.FIRST_COMPLETED)
    await asyncio.sleep(0.05)
    assert sum(c.done() for c in calls) == 1, "one a second: the others wait"
    assert len(fp.requests) == 1
    answers = await drive(clock, asyncio.gather(*calls))
    assert all(a.content for a in answers)
    assert clock.monotonic() >= 2.0
    assert await rate_limiter.aacquire(blocking=False) is False  # the next slot is a second away
    await clock.advance(1.0)
    assert await rate_limiter.aacquire(blocking=False) is True


def test_rate_limiter_needs_a_limiter() -> None:
    with pytest.raises(ConfigError, match="limiter"):
        ResilienceRateLimiter(object(), provider="openai")
