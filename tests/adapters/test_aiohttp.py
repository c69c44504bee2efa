"""The aiohttp client middleware, in a real ClientSession against FakeProvider."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from resilience.adapters.aiohttp import SUPPORTED, ResilienceMiddleware

from resilience import (
    CallEnded,
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
from resilience._limiter import RateLimiter
from resilience._retry import Retry
from resilience.testing._fake_provider import FakeProvider
from tests.adapters._support import MESSAGES, TOOLS, Otel, drive, gather_driven, of_type

HEADERS = {"Authorization": "Bearer sk-test"}


def body(model: str = "gpt-4o-mini", **kw: Any) -> dict[str, Any]:
    return {"model": model, "messages": MESSAGES, **kw}


async def post(session: aiohttp.ClientSession, fp: FakeProvider, payload: Any) -> tuple[int, Any]:
    async with session.post(
        fp.base_url + "/v1/chat/completions", json=payload, headers=HEADERS
    ) as resp:
        return resp.status, await resp.json()


def test_supported_versions() -> None:
    assert SUPPORTED == "aiohttp>=3.12,<4"


async def test_a_429_burst_is_absorbed_by_limiter_and_retry(
    fp: FakeProvider, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [429, 429])
    events: list[Any] = []
    mw = ResilienceMiddleware(
        Pipeline(Retry(4), CircuitBreaker(), RateLimiter(), hooks=[events.append], clock=clock),
        provider="openai",
    )
    async with aiohttp.ClientSession(middlewares=[mw]) as session:
        answers = await gather_driven(clock, [post(session, fp, body()) for _ in range(5)])
    assert [status for status, _ in answers] == [200] * 5
    assert fp.count(status=429) == 2
    assert of_type(events, RateLimitWait)
    # The model came from the JSON body.
    assert {e.call.model for e in of_type(events, CallEnded)} == {"gpt-4o-mini"}


async def test_outage_trips_breaker_and_later_calls_move_to_the_next_model_without_a_request(
    fp: FakeProvider, clock: FakeClock, otel: Otel
) -> None:
    fp.set_outage(503, models=["gpt-4o"])
    mw = ResilienceMiddleware(
        Pipeline(
            Fallback(["openai/gpt-4o-mini"]),
            Retry(2),
            CircuitBreaker(failure_threshold=3),
            RateLimiter(),
            hooks=[otel.telemetry],
            clock=clock,
        ),
        provider="openai",
    )
    async with aiohttp.ClientSession(middlewares=[mw]) as session:
        for _ in range(5):
            status, answer = await drive(clock, post(session, fp, body("gpt-4o")))
            assert status == 200 and answer["model"] == "gpt-4o-mini"
    assert fp.count(model="gpt-4o") == 3
    assert fp.count(model="gpt-4o-mini", status=200) == 5
    assert otel.buckets().count("server_error") == 3


async def test_unsupported_tools_are_dropped_from_the_body_and_the_model_retried(
    fp: FakeProvider, clock: FakeClock
) -> None:
    events: list[Any] = []
    mw = ResilienceMiddleware(Pipeline(Fallback([]), hooks=[events.append], clock=clock))
    async with aiohttp.ClientSession(middlewares=[mw]) as session:
        status, answer = await post(session, fp, body("gpt-4o", tools=TOOLS, tool_choice="auto"))
    assert status == 200
    assert not answer["choices"][0]["message"].get("tool_calls")
    assert [(r.model, r.status) for r in fp.requests] == [("gpt-4o", 400), ("gpt-4o", 200)]
    assert [e.feature for e in of_type(events, Degraded)] == ["tools"]


async def test_spans_carry_the_failure_bucket_and_the_last_failed_response_stays_readable(
    fp: FakeProvider, clock: FakeClock, otel: Otel
) -> None:
    fp.script("gpt-4o-mini", [502, 502])
    mw = ResilienceMiddleware(Pipeline(Retry(2), hooks=[otel.telemetry], clock=clock))
    async with aiohttp.ClientSession(middlewares=[mw]) as session:

        async def read() -> tuple[int, str]:
            async with session.post(
                fp.base_url + "/v1/chat/completions", json=body(), headers=HEADERS
            ) as resp:
                return resp.status, await resp.text()

        status, text = await drive(clock, read())
    # The pipeline gave up: the caller gets aiohttp's own last response, readable.
    assert status == 502
    assert "Bad Gateway" in text
    assert otel.buckets() == ["gateway", "gateway"]


async def test_raise_for_failure_raises_the_classified_error(
    fp: FakeProvider, clock: FakeClock
) -> None:
    fp.script("gpt-4o-mini", [401])
    mw = ResilienceMiddleware(Pipeline(clock=clock), raise_for_failure=True)
    async with aiohttp.ClientSession(middlewares=[mw]) as session:
        with pytest.raises(ProviderError) as info:
            await post(session, fp, body())
    assert info.value.failure.kind == "auth"
    assert "sk-test" not in str(info.value)


async def test_an_open_circuit_raises_before_any_request(
    fp: FakeProvider, clock: FakeClock
) -> None:
    fp.set_outage(503)
    mw = ResilienceMiddleware(Pipeline(CircuitBreaker(failure_threshold=2), clock=clock))
    async with aiohttp.ClientSession(middlewares=[mw]) as session:
        for _ in range(2):
            status, _ = await post(session, fp, body())
            assert status == 503
        with pytest.raises(CircuitOpenError):
            await post(session, fp, body())
    assert len(fp.requests) == 2


async def test_streaming_response_is_handed_over_unread(fp: FakeProvider, clock: FakeClock) -> None:
    fp.script("gpt-4o-mini", [503])
    mw = ResilienceMiddleware(Pipeline(Retry(3), RateLimiter(), clock=clock))
    async with aiohttp.ClientSession(middlewares=[mw]) as session:

        async def read() -> list[Any]:
            async with session.post(
                fp.base_url + "/v1/chat/completions", json=body(stream=True), headers=HEADERS
            ) as resp:
                assert resp.status == 200
                events = []
                async for line in resp.content:
                    text = line.decode().strip()
                    if text.startswith("data: ") and text != "data: [DONE]":
                        events.append(json.loads(text[6:]))
                return events

        events = await drive(clock, read())
    assert events and events[0]["object"] == "chat.completion.chunk"
    assert [r.status for r in fp.requests] == [503, 200]


async def test_requests_that_are_not_llm_calls_pass_through(
    fp: FakeProvider, clock: FakeClock
) -> None:
    events: list[Any] = []
    mw = ResilienceMiddleware(Pipeline(hooks=[events.append], clock=clock))
    async with (
        aiohttp.ClientSession(middlewares=[mw]) as session,
        session.get(fp.base_url + "/v1/models", headers=HEADERS) as resp,
    ):
        assert resp.status == 200
    assert events == []


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(ConfigError, match="provider"):
        ResilienceMiddleware(provider="")
    with pytest.raises(ConfigError, match="pipeline"):
        ResilienceMiddleware(pipeline=object())  # type: ignore[arg-type]
