"""The LiteLLM adapter: the callback in ``litellm.callbacks`` with plain
``acompletion`` and with ``Router``, and the full-pipeline wrapper; the real
``litellm`` package against FakeProvider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import litellm
import pytest
from resilience.adapters.litellm import (
    SUPPORTED,
    ResilienceCallback,
    ResilientLiteLLM,
    call_for,
    split_model,
)

from resilience import (
    CircuitOpenError,
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
from tests.adapters._support import MESSAGES, Otel, drive, gather_driven, of_type


@pytest.fixture
def register() -> Any:
    """Register callbacks for one test, and take them out of every LiteLLM list
    afterwards (LiteLLM keeps one instance per logger class)."""
    added: list[ResilienceCallback] = []

    def add(callback: ResilienceCallback) -> ResilienceCallback:
        added.append(callback.register())
        return callback

    yield add
    for callback in added:
        callback.unregister()


async def settle(until: Callable[[], bool], rounds: int = 400) -> None:
    """Let LiteLLM's background logging tasks run until ``until()`` holds."""
    for _ in range(rounds):
        if until():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("background callbacks never ran")


JSON = {"type": "json_object"}


def kw(fp: FakeProvider, **extra: Any) -> dict[str, Any]:
    return {
        "api_base": fp.base_url + "/v1",
        "api_key": "sk-test-litellm",
        "messages": MESSAGES,
        "max_retries": 0,
        **extra,
    }


def test_supported_versions_match_the_extra() -> None:
    assert SUPPORTED == "litellm>=1.70,<1.107"


def test_deployment_key_is_provider_api_base_and_model() -> None:
    call = call_for({"model": "openai/gpt-4o", "api_base": "http://user:pw@10.0.0.5:8080/v1"})
    assert (call.provider, call.model) == ("openai@10.0.0.5:8080", "gpt-4o")
    assert call_for({"model": "gpt-4o-mini"}).target == "openai/gpt-4o-mini"
    assert split_model("anthropic/claude-haiku-4-5") == ("anthropic", "claude-haiku-4-5")
    assert split_model("no-such-model-anywhere") == ("unknown", "no-such-model-anywhere")


# -- the callback ----------------------------------------------------------------------


async def test_callback_holds_the_next_call_after_a_429_until_retry_after(
    fp: FakeProvider, clock: FakeClock, register: Any
) -> None:
    events: list[Any] = []
    callback = register(ResilienceCallback(hooks=[events.append], clock=clock))
    fp.script("gpt-4o-mini", [429])
    with pytest.raises(litellm.RateLimitError):
        await litellm.acompletion(model="openai/gpt-4o-mini", **kw(fp))
    held = asyncio.ensure_future(litellm.acompletion(model="openai/gpt-4o-mini", **kw(fp)))
    await asyncio.sleep(0.05)
    assert not held.done() and len(fp.requests) == 1, "held by the limiter, nothing sent"
    result = await drive(clock, held)
    assert result.choices[0].message.content
    assert [r.status for r in fp.requests] == [429, 200]
    assert of_type(events, RateLimitWait)
    assert callback.open_attempts == 0


async def test_callback_breaker_rejects_before_any_request_and_router_falls_back(
    fp: FakeProvider, fp2: FakeProvider, clock: FakeClock, register: Any, otel: Otel
) -> None:
    register(
        ResilienceCallback(
            breaker=CircuitBreaker(failure_threshold=2), hooks=[otel.telemetry], clock=clock
        )
    )
    fp.set_outage(503)
    params = {"api_key": "sk-test-router", "max_retries": 0}
    router = litellm.Router(
        model_list=[
            {
                "model_name": "main",
                "litellm_params": {
                    "model": "openai/gpt-4o",
                    "api_base": fp.base_url + "/v1",
                    **params,
                },
            },
            {
                "model_name": "backup",
                "litellm_params": {
                    "model": "openai/gpt-4o-mini",
                    "api_base": fp2.base_url + "/v1",
                    **params,
                },
            },
        ],
        fallbacks=[{"main": ["backup"]}],
        num_retries=0,
        disable_cooldowns=True,  # the breaker decides, not the Router
    )
    for _ in range(5):
        result = await router.acompletion(model="main", messages=MESSAGES)
        assert result.choices[0].message.content
    assert len(fp.requests) == 2, "after two 503s the breaker let nothing through"
    assert fp2.count(status=200) == 5
    # Plain acompletion meets the same breaker: rejected without a request.
    with pytest.raises(CircuitOpenError):
        await litellm.acompletion(model="openai/gpt-4o", **kw(fp))
    assert len(fp.requests) == 2
    errors = [(s.attributes or {}).get("error.type") for s in otel.attempts()]
    assert errors.count("overloaded") == 2  # bucket server_error
    assert errors.count("CircuitOpenError") == 4  # rejected, nothing sent
    assert errors.count(None) == 5  # the backup's answers
    assert otel.buckets().count("server_error") == 2


async def test_callback_spans_carry_the_bucket_of_an_unsupported_feature(
    clock: FakeClock, register: Any, otel: Otel
) -> None:
    # JSON mode, not tools: LiteLLM 1.106 routes any call with tools through its
    # MCP handler, which needs the separate ``mcp`` package.
    callback = register(ResilienceCallback(hooks=[otel.telemetry], clock=clock))
    async with FakeProvider(clock=clock, unsupported={"gpt-4o": {"json"}}) as fp:
        with pytest.raises(litellm.BadRequestError):
            await litellm.acompletion(model="openai/gpt-4o", **kw(fp, response_format=JSON))
    (span,) = otel.attempts()
    attrs = dict(span.attributes or {})
    assert attrs["resilience.failure.bucket"] == "client_error"
    assert attrs["resilience.failure.kind"] == "unsupported_feature"
    assert attrs["http.response.status_code"] == 400
    assert str(attrs["gen_ai.provider.name"]).startswith("openai@127.0.0.1:")
    assert callback.open_attempts == 0


async def test_callback_settles_a_stream_when_it_ends(
    fp: FakeProvider, clock: FakeClock, register: Any
) -> None:
    events: list[Any] = []
    callback = register(ResilienceCallback(hooks=[events.append], clock=clock))
    stream = await litellm.acompletion(
        model="openai/gpt-4o-mini",
        stream=True,
        stream_options={"include_usage": True},
        **kw(fp),
    )
    assert callback.open_attempts == 1, "held while the stream is read"
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    await settle(lambda: callback.open_attempts == 0 and callback.guard.open_tickets == 0)
    ended = [e for e in events if type(e).__name__ == "CallEnded"]
    assert ended[-1].error is None
    assert ended[-1].usage and ended[-1].usage["output_tokens"] > 0


async def test_callback_with_no_arguments_uses_default_limiter_and_breaker(
    fp: FakeProvider, register: Any
) -> None:
    callback = register(ResilienceCallback())
    middlewares = callback.guard.pipeline.middlewares
    assert [type(m).__name__ for m in middlewares] == ["CircuitBreaker", "RateLimiter"]
    result = await litellm.acompletion(model="openai/gpt-4o-mini", **kw(fp))
    assert result.choices[0].message.content
    await callback.aclose()


# -- the full-pipeline wrapper ---------------------------------------------------------


@pytest.fixture
async def llm_params(fp: FakeProvider, fp2: FakeProvider) -> AsyncIterator[dict[str, Any]]:
    yield {
        "openai": {"api_base": fp.base_url + "/v1", "api_key": "sk-test-openai"},
        "anthropic": {"api_base": fp2.base_url, "api_key": "sk-ant-test-backup"},
    }


async def test_wrapper_absorbs_a_429_burst(
    fp: FakeProvider, clock: FakeClock, llm_params: dict[str, Any]
) -> None:
    fp.script("gpt-4o-mini", [429, 429, 429])
    events: list[Any] = []
    llm = ResilientLiteLLM(
        Pipeline(Retry(4), CircuitBreaker(), RateLimiter(), hooks=[events.append], clock=clock),
        params=llm_params,
    )
    results = await gather_driven(
        clock, [llm.acompletion("openai/gpt-4o-mini", MESSAGES) for _ in range(6)]
    )
    assert all(r.choices[0].message.content for r in results)
    assert fp.count(status=429) == 3 and fp.count(status=200) == 6
    assert of_type(events, RateLimitWait)


async def test_wrapper_falls_back_across_providers_and_the_breaker_stops_requests(
    fp: FakeProvider, fp2: FakeProvider, clock: FakeClock, llm_params: dict[str, Any], otel: Otel
) -> None:
    fp.set_outage(503)
    llm = ResilientLiteLLM(
        Pipeline(
            Fallback(["anthropic/claude-haiku-4-5"]),
            Retry(2),
            CircuitBreaker(failure_threshold=3),
            RateLimiter(),
            hooks=[otel.telemetry],
            clock=clock,
        ),
        params=llm_params,
    )
    for _ in range(5):
        result = await drive(clock, llm.acompletion("openai/gpt-4o", MESSAGES, max_tokens=64))
        assert result.choices[0].message.content
    assert len(fp.requests) == 3
    assert fp2.count(status=200, model="claude-haiku-4-5") == 5
    assert otel.buckets().count("server_error") == 3


async def test_wrapper_drops_an_unsupported_feature_and_retries_the_model(
    clock: FakeClock, llm_params: dict[str, Any]
) -> None:
    events: list[Any] = []
    async with FakeProvider(clock=clock, unsupported={"gpt-4o": {"json"}}) as fp:
        llm = ResilientLiteLLM(
            Pipeline(Fallback([]), hooks=[events.append], clock=clock),
            params={"openai": {"api_base": fp.base_url + "/v1", "api_key": "sk-test"}},
        )
        result = await llm.acompletion("openai/gpt-4o", MESSAGES, response_format=JSON)
    assert result.choices[0].message.content
    assert [(r.model, r.status) for r in fp.requests] == [("gpt-4o", 400), ("gpt-4o", 200)]
    assert [e.feature for e in of_type(events, Degraded)] == ["json"]


async def test_wrapper_streams_after_a_retry_before_the_first_chunk(
    fp: FakeProvider, clock: FakeClock, llm_params: dict[str, Any]
) -> None:
    fp.script("gpt-4o-mini", [503])
    llm = ResilientLiteLLM(Pipeline(Retry(3), RateLimiter(), clock=clock), params=llm_params)
    stream = await drive(clock, llm.acompletion("openai/gpt-4o-mini", MESSAGES, stream=True))
    async with stream:
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text
    assert [r.status for r in fp.requests] == [503, 200]


async def test_wrapper_raises_a_classified_error_for_a_bad_request(
    fp: FakeProvider, clock: FakeClock, llm_params: dict[str, Any]
) -> None:
    fp.script("gpt-4o-mini", [400])
    llm = ResilientLiteLLM(Pipeline(Retry(3), clock=clock), params=llm_params)
    with pytest.raises(ProviderError) as info:
        await llm.acompletion("openai/gpt-4o-mini", MESSAGES)
    assert info.value.failure.bucket == "client_error"
    assert len(fp.requests) == 1
