"""classify() on exceptions raised by the real SDKs and HTTP clients.

The openai and anthropic clients talk to an in-process transport (the only
stand-in); aiohttp, httpx and httpx2 talk to real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar

import aiohttp
import anthropic
import httpx
import httpx2
import openai
import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience._classify.classify import classify
from resilience._core.errors import (
    CircuitOpenError,
    ConfigError,
    FallbackExhausted,
    ProviderError,
)
from resilience._core.failure import Failure, Kind

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

MESSAGES = [{"role": "user", "content": "hi"}]


def _openai(handler: Callable[[httpx.Request], httpx.Response]) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="sk-test-0000",
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def _anthropic(handler: Callable[[httpx2.Request], httpx2.Response]) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key="sk-ant-test-0000",
        base_url="http://127.0.0.1:9",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )


async def _openai_error(status: int, body: Any, headers: dict[str, str] | None = None) -> Exception:
    client = _openai(lambda _: httpx.Response(status, json=body, headers=headers or {}))
    with pytest.raises(openai.APIError) as info:
        await client.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # type: ignore[arg-type]
    return info.value


async def _anthropic_error(
    status: int, body: Any, headers: dict[str, str] | None = None
) -> Exception:
    client = _anthropic(lambda _: httpx2.Response(status, json=body, headers=headers or {}))
    with pytest.raises(anthropic.APIError) as info:
        await client.messages.create(model="claude-x", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    return info.value


# ------------------------------------------------------------------------- openai


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                         "code": "insufficient_quota"}}, Kind.BILLING, False),
        (401, {"error": {"message": "Incorrect API key provided: sk-abc...xyz",
                         "type": "invalid_request_error", "code": "invalid_api_key"}},
         Kind.AUTH, False),
        (404, {"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}},
         Kind.NOT_FOUND, False),
        (400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                         "code": "context_length_exceeded"}}, Kind.CONTEXT_LENGTH, False),
        (409, {"error": {"message": "Conflict", "type": "invalid_request_error"}},
         Kind.SERVER, True),
        (422, {"error": {"message": "Unprocessable"}}, Kind.BAD_REQUEST, False),
        (500, {"error": {"message": "The server had an error", "type": "server_error"}},
         Kind.SERVER, True),
        (503, {"error": {"message": "The engine is currently overloaded", "type": "server_error"}},
         Kind.OVERLOADED, True),
    ],
)  # fmt: skip
async def test_openai_status_errors_from_the_real_client(
    status: int, body: Any, kind: Kind, retryable: bool
) -> None:
    exc = await _openai_error(status, body)
    f = classify(exc)
    assert (f.kind, f.status, f.retryable, f.provider) == (kind, status, retryable, "openai")
    assert "sk-abc" not in f.message or "***" in f.message


async def test_openai_rate_limit_headers_reach_retry_after() -> None:
    exc = await _openai_error(
        429,
        {"error": {"message": "Rate limit reached for requests", "code": "rate_limit_exceeded"}},
        {"x-ratelimit-reset-requests": "1m9.696s", "x-ratelimit-remaining-requests": "0"},
    )
    f = classify(exc)
    assert f.kind is Kind.RATE_LIMIT and f.retry_after == pytest.approx(69.696)


async def test_openai_unsupported_parameter_names_the_feature() -> None:
    exc = await _openai_error(
        400,
        {"error": {"message": "Unsupported parameter: 'parallel_tool_calls' is not supported "
                   "with this model.", "type": "invalid_request_error",
                   "param": "parallel_tool_calls", "code": "unsupported_parameter"}},
    )  # fmt: skip
    f = classify(exc)
    assert f.kind is Kind.UNSUPPORTED_FEATURE and f.feature == "parallel_tool_calls"
    assert f.code == "unsupported_parameter"


@pytest.mark.parametrize(
    ("raised", "kind"), [(httpx.ConnectError("refused"), Kind.CONNECTION),
                         (httpx.ReadTimeout("slow"), Kind.TIMEOUT)]
)  # fmt: skip
async def test_openai_connection_and_timeout_errors(raised: Exception, kind: Kind) -> None:
    def handler(_: httpx.Request) -> httpx.Response:
        raise raised

    with pytest.raises(openai.APIConnectionError) as info:
        await _openai(handler).chat.completions.create(model="m", messages=MESSAGES)  # type: ignore[arg-type]
    f = classify(info.value)
    assert f.kind is kind and f.status is None and f.retryable and f.trips_breaker


async def test_openai_error_inside_a_200_stream() -> None:
    content = (
        b'data: {"id":"1","object":"chat.completion.chunk","choices":[]}\n\n'
        b'data: {"error": {"message": "The server had an error while processing your '
        b'request.", "type": "server_error"}}\n\n'
    )

    def handler(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=content)

    stream = await _openai(handler).chat.completions.create(
        model="m",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    with pytest.raises(openai.APIError) as info:
        async for _ in stream:
            pass
    assert classify(info.value).kind is Kind.SERVER


# ---------------------------------------------------------------------- anthropic


async def test_anthropic_overloaded_error_529() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    exc = await _anthropic_error(529, body)
    assert isinstance(exc, anthropic.OverloadedError)
    f = classify(exc)
    assert (f.kind, f.status, f.retryable, f.trips_breaker) == (Kind.OVERLOADED, 529, True, True)
    assert f.code == "overloaded_error" and f.provider == "anthropic"


async def test_anthropic_rate_limit_with_retry_after_and_reset() -> None:
    exc = await _anthropic_error(
        429,
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Too many requests"}},
        {"retry-after": "12", "anthropic-ratelimit-requests-remaining": "0"},
    )
    f = classify(exc)
    assert f.kind is Kind.RATE_LIMIT and f.retry_after == 12.0


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"type": "invalid_request_error", "message": "Your credit balance is too low to "
               "access the Anthropic API."}, Kind.BILLING),
        (400, {"type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > "
               "200000 maximum"}, Kind.CONTEXT_LENGTH),
        (413, {"type": "request_too_large", "message": "Request exceeds the maximum size"},
         Kind.PAYLOAD_TOO_LARGE),
        (401, {"type": "authentication_error", "message": "invalid x-api-key"}, Kind.AUTH),
        (403, {"type": "permission_error", "message": "Not allowed"}, Kind.PERMISSION),
        (404, {"type": "not_found_error", "message": "model: claude-x"}, Kind.NOT_FOUND),
        (500, {"type": "api_error", "message": "Internal server error"}, Kind.SERVER),
    ],
)  # fmt: skip
async def test_anthropic_status_errors(status: int, error: Any, kind: Kind) -> None:
    exc = await _anthropic_error(status, {"type": "error", "error": error})
    assert classify(exc).kind is kind


async def test_anthropic_error_event_in_a_200_stream() -> None:
    content = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1",'
        b'"type":"message","role":"assistant","content":[],"model":"claude","stop_reason":null,'
        b'"stop_sequence":null,"usage":{"input_tokens":1,"output_tokens":1}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error",'
        b'"message":"Overloaded"}}\n\n'
    )

    def handler(_: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=content)

    stream = await _anthropic(handler).messages.create(
        model="claude",
        max_tokens=8,
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
    )
    with pytest.raises(anthropic.APIError) as info:
        async for _ in stream:
            pass
    f = classify(info.value)
    assert f.kind is Kind.OVERLOADED and f.retryable


async def test_anthropic_connection_error() -> None:
    def handler(_: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("refused")

    with pytest.raises(anthropic.APIConnectionError) as info:
        await _anthropic(handler).messages.create(model="c", max_tokens=8, messages=MESSAGES)  # type: ignore[arg-type]
    assert classify(info.value).kind is Kind.CONNECTION


# --------------------------------------------------------- langchain and litellm


async def test_langchain_openai_wraps_a_429_into_a_model_error() -> None:
    from langchain_core.exceptions import ModelRateLimitError
    from langchain_openai import ChatOpenAI

    def handler(_: httpx.Request) -> httpx.Response:
        body = {"error": {"message": "Rate limit reached. Please try again in 2s.",
                          "code": "rate_limit_exceeded"}}  # fmt: skip
        return httpx.Response(429, json=body)

    llm = ChatOpenAI(
        model="gpt-4o",
        api_key="sk-test-0000",  # type: ignore[arg-type]
        base_url="http://127.0.0.1:9/v1",
        max_retries=0,
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )
    with pytest.raises(ModelRateLimitError) as info:
        await llm.ainvoke("hi")
    f = classify(info.value)
    assert f.kind is Kind.RATE_LIMIT and f.retry_after == 2.0 and f.status == 429


def test_langchain_core_model_error_family() -> None:
    from langchain_core import exceptions as lc

    expected = {
        lc.ModelAuthenticationError: Kind.AUTH,
        lc.ModelPermissionDeniedError: Kind.PERMISSION,
        lc.ModelInvalidRequestError: Kind.BAD_REQUEST,
        lc.ModelNotFoundError: Kind.NOT_FOUND,
        lc.ModelRateLimitError: Kind.RATE_LIMIT,
        lc.ModelAPIError: Kind.SERVER,
        lc.ModelConnectionError: Kind.CONNECTION,
        lc.ModelTimeoutError: Kind.TIMEOUT,
        lc.ContextOverflowError: Kind.CONTEXT_LENGTH,
    }
    for cls, kind in expected.items():
        assert classify(cls("boom")).kind is kind, cls
    assert classify(lc.OutputParserException("bad json")).kind is Kind.UNKNOWN


def test_litellm_exception_classes() -> None:
    import litellm
    from litellm.types.router import RouterRateLimitError

    quota = litellm.RateLimitError(
        message="OpenAIException - {'error': {'message': 'You exceeded your current quota', "
        "'type': 'insufficient_quota', 'code': 'insufficient_quota'}}",
        llm_provider="openai",
        model="gpt-4o",
    )
    assert classify(quota).kind is Kind.BILLING
    assert classify(quota).provider == "openai"
    window = litellm.ContextWindowExceededError(
        message="too long", llm_provider="openai", model="m"
    )
    assert classify(window).kind is Kind.CONTEXT_LENGTH
    policy = litellm.ContentPolicyViolationError(message="blocked", llm_provider="azure", model="m")
    assert classify(policy).kind is Kind.CONTENT_FILTER
    conn = litellm.APIConnectionError(message="reset", llm_provider="openai", model="m")
    assert classify(conn).kind is Kind.CONNECTION and classify(conn).status is None
    assert (
        classify(litellm.Timeout(message="slow", llm_provider="x", model="m")).kind is Kind.TIMEOUT
    )
    busy = litellm.ServiceUnavailableError(message="busy", llm_provider="x", model="m")
    assert classify(busy).kind is Kind.OVERLOADED
    router = RouterRateLimitError(
        model="gpt-4o", cooldown_time=5.0, enable_pre_call_checks=False, cooldown_list=[]
    )
    f = classify(router)
    assert isinstance(router, ValueError)
    assert (f.kind, f.retry_after) == (Kind.RATE_LIMIT, 5.0)


def test_a_value_error_with_a_status_code_is_a_provider_failure() -> None:
    err = ValueError("No deployments available")
    err.status_code = 429  # type: ignore[attr-defined]
    assert classify(err).kind is Kind.RATE_LIMIT


def test_botocore_client_errors() -> None:
    from botocore.exceptions import ClientError, EventStreamError

    throttled = ClientError(
        {"Error": {"Code": "ThrottlingException", "Message": "Too many requests, please wait."},
         "ResponseMetadata": {"HTTPStatusCode": 429, "HTTPHeaders": {"retry-after": "3"}}},
        "Converse",
    )  # fmt: skip
    f = classify(throttled)
    assert (f.kind, f.status, f.retry_after) == (Kind.RATE_LIMIT, 429, 3.0)
    too_long = ClientError(
        {"Error": {"Code": "ValidationException", "Message": "Input is too long for requested "
                   "model."}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "InvokeModel",
    )  # fmt: skip
    assert classify(too_long).kind is Kind.CONTEXT_LENGTH
    streamed = EventStreamError(
        {"Error": {"Code": "modelStreamErrorException", "Message": "Model stream failed"}},
        "ConverseStream",
    )
    assert classify(streamed).kind is Kind.SERVER


@pytest.mark.parametrize(
    ("code", "message", "kind", "retryable"),
    [
        ("throttlingException", "Too many requests, please wait before trying again.",
         Kind.RATE_LIMIT, True),
        ("throttlingException", "Too many tokens per day, please wait before trying again.",
         Kind.QUOTA, False),
        ("serviceUnavailableException", "Bedrock is unable to process your request.",
         Kind.OVERLOADED, True),
        ("internalServerException", "The system encountered an unexpected error during "
         "processing. Try your request again.", Kind.SERVER, True),
        ("validationException", "The model returned the following errors: Invalid "
         "X-Amzn-Bedrock-Context-Length Header", Kind.BAD_REQUEST, False),
        ("validationException", "Access to Anthropic models is not allowed from unsupported "
         "countries, regions, or territories.", Kind.PERMISSION, False),
    ],
)  # fmt: skip
def test_botocore_event_stream_errors_keep_their_exception_kind(
    code: str, message: str, kind: Kind, retryable: bool
) -> None:
    """boto3 raises a mid-stream Bedrock exception as EventStreamError with no
    HTTP status; the exception name and its words decide."""
    from botocore.exceptions import EventStreamError

    f = classify(EventStreamError({"Error": {"Code": code, "Message": message}}, "ConverseStream"))
    assert (f.kind, f.retryable, f.status) == (kind, retryable, None)


# ------------------------------------------------------------ aiohttp, httpx, httpx2


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def limited(_: web.Request) -> web.Response:
        return web.json_response(
            {"error": {"message": "slow down", "type": "rate_limit_error"}},
            status=429,
            headers={"Retry-After": "4"},
        )

    app = web.Application()
    app.router.add_post("/limited", limited)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_aiohttp_client_response_error_from_raise_for_status(server: str) -> None:
    async with aiohttp.ClientSession() as session, session.post(server + "/limited") as resp:
        with pytest.raises(aiohttp.ClientResponseError) as info:
            resp.raise_for_status()
    f = classify(info.value)
    assert (f.kind, f.status, f.retry_after) == (Kind.RATE_LIMIT, 429, 4.0)


async def test_aiohttp_server_disconnected() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    srv = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv, aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ServerDisconnectedError) as info:
            await session.post(f"http://127.0.0.1:{port}/x", data=b"{}")
    f = classify(info.value)
    assert f.kind is Kind.CONNECTION and f.retryable


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_connection_refused_on_every_client() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorError) as a:
            await session.get(url)
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError) as b:
            await client.get(url)
    async with httpx2.AsyncClient() as client2:
        with pytest.raises(httpx2.ConnectError) as c:
            await client2.get(url)
    for info in (a, b, c):
        assert classify(info.value).kind is Kind.CONNECTION, info.value


@pytest.mark.parametrize(
    "exc",
    [asyncio.TimeoutError(), TimeoutError(), httpx.ReadTimeout("t"), httpx2.PoolTimeout("t"),  # noqa: UP041
     aiohttp.ServerTimeoutError("t"), aiohttp.ConnectionTimeoutError("t")],
)  # fmt: skip
def test_timeouts(exc: BaseException) -> None:
    f = classify(exc)
    assert f.kind is Kind.TIMEOUT and f.retryable and f.status is None


@pytest.mark.parametrize(
    "exc", [ConnectionResetError(), BrokenPipeError(), ConnectionRefusedError(), OSError("net")]
)
def test_os_level_connection_errors(exc: BaseException) -> None:
    assert classify(exc).kind is Kind.CONNECTION


def test_httpx_status_error_reads_the_response() -> None:
    request = httpx.Request("POST", "https://api.example.com/v1/chat/completions")
    response = httpx.Response(
        529, request=request, json={"type": "error", "error": {"type": "overloaded_error"}}
    )
    exc = httpx.HTTPStatusError("529", request=request, response=response)
    assert classify(exc).kind is Kind.OVERLOADED


# ------------------------------------------------------- not provider failures


@pytest.mark.parametrize(
    "exc",
    [TypeError("x"), KeyError("k"), ValueError("v"), AttributeError("a"), IndexError(),
     FileNotFoundError("f"), PermissionError("p"), ZeroDivisionError(), RuntimeError("r"),
     asyncio.CancelledError()],
)  # fmt: skip
def test_bugs_are_unknown_with_no_status(exc: BaseException) -> None:
    f = classify(exc)
    assert f.kind is Kind.UNKNOWN and f.status is None


def test_hostile_exception_objects_never_make_it_raise() -> None:
    class Hostile(Exception):
        def __getattribute__(self, name: str) -> Any:
            raise RuntimeError("no attributes for you")

        def __str__(self) -> str:
            raise RuntimeError("no str either")

    class Lying(Exception):
        status_code = "not a number"
        response = property(lambda self: 1 / 0)
        body: ClassVar[dict[str, object]] = {"error": object()}

    assert classify(Hostile()).kind is Kind.UNKNOWN
    assert classify(Lying()).kind is Kind.UNKNOWN


async def test_wrapped_provider_errors_are_found_through_their_cause() -> None:
    inner = await _openai_error(
        429, {"error": {"message": "slow down", "code": "rate_limit_exceeded"}}
    )
    try:
        raise RuntimeError("my wrapper") from inner
    except RuntimeError as outer:
        assert classify(outer).kind is Kind.RATE_LIMIT
    group = ExceptionGroup("task group", [inner])
    assert classify(group).kind is Kind.RATE_LIMIT


def test_resilience_errors_keep_or_derive_their_failure() -> None:
    failure = Failure.of(Kind.RATE_LIMIT, status=429, retry_after=2.0)
    assert classify(ProviderError(failure)) is failure
    opened = classify(CircuitOpenError("openai/gpt-4o", retry_after=7.5))
    assert opened.kind is Kind.OVERLOADED and opened.retry_after == 7.5
    assert not opened.trips_breaker and opened.code == "circuit_open"
    exhausted = FallbackExhausted([("a", ProviderError(failure))])
    assert classify(exhausted) is failure
    assert classify(ConfigError("rate", -1, "a positive number")).kind is Kind.UNKNOWN


async def test_explicit_status_and_body_win_over_the_exception() -> None:
    exc = await _openai_error(400, {"error": {"message": "bad"}})
    f = classify(exc, status=429, body={"error": {"code": "insufficient_quota"}})
    assert f.kind is Kind.BILLING and f.status == 429


_values = st.one_of(
    st.none(), st.integers(-1000, 1000), st.text(max_size=40), st.binary(max_size=40),
    st.dictionaries(st.sampled_from(["error", "message", "code", "type"]), st.text(max_size=20)),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(
    attrs=st.dictionaries(
        st.sampled_from(
            ["status_code", "status", "code", "body", "response", "headers", "message",
             "llm_provider", "cooldown_time", "details", "type", "__cause__"]
        ),
        _values,
        max_size=6,
    ),
    module=st.sampled_from(["openai._exceptions", "litellm.exceptions", "myapp.errors"]),
    base=st.sampled_from([Exception, ValueError, OSError, TimeoutError]),
)  # fmt: skip
def test_arbitrary_exception_shapes_never_raise(
    attrs: dict[str, Any], module: str, base: type[Exception]
) -> None:
    cls = type("RateLimitError", (base,), {"__module__": module})
    exc = cls("boom")
    for name, value in attrs.items():
        with contextlib.suppress(TypeError, AttributeError):
            setattr(exc, name, value)
    f = classify(exc, provider=123)  # type: ignore[arg-type]
    assert isinstance(f, Failure) and f.bucket is f.kind.bucket
