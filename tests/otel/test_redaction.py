"""Secrets never leave: API keys, Authorization / x-api-key values, prompts
and completions appear in no exported span, span event or attribute, no log
record, and no ResilienceError message.

End to end: the real ``openai`` and ``anthropic`` SDKs (which put the key in
the Authorization / x-api-key header) call a local server that behaves like
the worst provider: its error bodies and HTML pages quote the credential it
received. The prompt travels in ``Call.payload``; the completion comes back
in a 200. A Pipeline with the Telemetry subscriber records into the SDK's
in-memory exporter."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import anthropic
import openai
import pytest
from aiohttp import web

from resilience import Call, Middleware, Pipeline, ResilienceError
from resilience._breaker import CircuitBreaker
from resilience._fallback import Fallback
from resilience._retry import Retry
from tests.otel._support import Hopping, Otel, Retrying, make_otel

OPENAI_KEY = "sk-proj-Qm7fZ2pLx9VtR4cW8nB3yH6jK1sD5gA0eU"
ANTHROPIC_KEY = "sk-ant-api03-Vb2Nq8Lz4Xc7Wm1Pk5Rt9Ys3Hd6Gf0Je-AbCdEf"
PROMPT = "my bank password is hunter2-orchid-7731"
COMPLETION = "the vault combination is 55-19-83"
SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, PROMPT, COMPLETION, "hunter2", "55-19-83")

Answer = Callable[[web.Request, str], web.Response]


def _openai_error(status: int, message: str, code: str, kind: str) -> Answer:
    def answer(request: web.Request, credential: str) -> web.Response:
        body = {"error": {"message": message.format(key=credential), "type": kind, "code": code}}
        return web.json_response(body, status=status, headers={"retry-after": "0"})

    return answer


def _anthropic_error(status: int, kind: str, message: str) -> Answer:
    def answer(request: web.Request, credential: str) -> web.Response:
        body = {"type": "error", "error": {"type": kind, "message": message.format(key=credential)}}
        return web.json_response(body, status=status, headers={"retry-after": "0"})

    return answer


def _gateway_page(request: web.Request, credential: str) -> web.Response:
    auth = request.headers.get("Authorization") or request.headers.get("x-api-key", "")
    html = (
        "<html><head><title>502 Bad Gateway</title></head><body>"
        f"<h1>502 Bad Gateway</h1><pre>upstream request headers: Authorization: {auth}"
        f"</pre></body></html>"
    )
    return web.Response(text=html, status=502, content_type="text/html")


def _openai_ok(request: web.Request, credential: str) -> web.Response:
    return web.json_response(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1776000000,
            "model": "gpt-4o-2024-08-06",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": COMPLETION},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 7, "total_tokens": 16},
        }
    )


class LeakyProvider:
    """Answers from a per-route script; remembers the prompts it received."""

    def __init__(self) -> None:
        self.script: dict[str, list[Answer]] = {"openai": [], "anthropic": []}
        self.prompts: list[str] = []
        self.url = ""

    async def _serve(self, request: web.Request, route: str) -> web.Response:
        data = await request.json()
        self.prompts.extend(m["content"] for m in data["messages"])
        auth = request.headers.get("Authorization", "")
        credential = auth.removeprefix("Bearer ") or request.headers.get("x-api-key", "")
        queue = self.script[route]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer(request, credential)

    def app(self) -> web.Application:
        app = web.Application()

        async def chat(request: web.Request) -> web.Response:
            return await self._serve(request, "openai")

        async def messages(request: web.Request) -> web.Response:
            return await self._serve(request, "anthropic")

        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_post("/v1/messages", messages)
        return app


@pytest.fixture
async def provider() -> AsyncIterator[LeakyProvider]:
    leaky = LeakyProvider()
    runner = web.AppRunner(leaky.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    leaky.url = f"http://127.0.0.1:{port}"
    yield leaky
    await runner.cleanup()


def sdk_handler(leaky: LeakyProvider) -> Callable[[Call], Any]:
    """The application's own call: the real SDKs, key in the headers."""
    oa = openai.AsyncOpenAI(api_key=OPENAI_KEY, base_url=f"{leaky.url}/v1", max_retries=0)
    an = anthropic.AsyncAnthropic(api_key=ANTHROPIC_KEY, base_url=leaky.url, max_retries=0)

    async def handler(call: Call) -> str:
        if call.provider == "openai":
            r = await oa.chat.completions.create(model=call.model, messages=call.payload)
            return r.choices[0].message.content or ""
        m = await an.messages.create(model=call.model, max_tokens=64, messages=call.payload)
        return "".join(getattr(b, "text", "") for b in m.content)

    return handler


def stand_ins(fallback: str | None) -> list[Middleware]:
    """The events-only stand-ins of the other telemetry tests."""
    return [*([Hopping(fallback)] if fallback else []), Retrying(tries=2)]


def real(fallback: str | None) -> list[Middleware]:
    """The library's own Fallback, Retry and CircuitBreaker."""
    retry = Retry(2, base=0.001, cap=0.001, jitter="none", budget=None)
    return [*([Fallback([fallback])] if fallback else []), retry, CircuitBreaker()]


MIDDLEWARES = pytest.mark.parametrize("middlewares", [stand_ins, real], ids=["stand-ins", "real"])


def exported_text(otel: Otel) -> str:
    """Every span as the exporter sees it: names, attributes, events, status,
    links and resource, serialised."""
    return json.dumps([json.loads(s.to_json()) for s in otel.spans()])


def assert_clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def assert_error_clean(error: BaseException) -> None:
    assert_clean("the error message", str(error))
    assert_clean("the error repr", repr(error))
    for _target, inner in getattr(error, "errors", ()):
        assert_clean("a fallback error", f"{inner!s} {inner!r}")


CALL = Call(
    provider="openai",
    model="gpt-4o",
    payload=[{"role": "user", "content": PROMPT}],
    metadata={"api_key": OPENAI_KEY, "prompt": PROMPT},
)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    # Everything this library and the OTel SDK log, at every level; other
    # packages at WARNING and up (the SDKs' own DEBUG request dumps are theirs).
    caplog.set_level(logging.DEBUG, logger="resilience")
    caplog.set_level(logging.DEBUG, logger="opentelemetry")
    caplog.set_level(logging.WARNING)
    return caplog


def logged_text(caplog: pytest.LogCaptureFixture) -> str:
    return caplog.text + "\n".join(str(r.args) for r in caplog.records)


@MIDDLEWARES
async def test_key_echoing_errors_through_retry_and_fallback_leak_nothing(
    provider: LeakyProvider, logs: pytest.LogCaptureFixture, middlewares: Any
) -> None:
    provider.script["openai"] = [
        _openai_error(
            401,
            "Incorrect API key provided: {key}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_api_key",
            "invalid_request_error",
        )
    ]
    provider.script["anthropic"] = [
        _anthropic_error(429, "rate_limit_error", "Rate limited for key {key}"),
        _anthropic_error(529, "overloaded_error", "Overloaded (key={key})"),
    ]
    otel = make_otel()
    pipeline = Pipeline(*middlewares("anthropic/claude-sonnet-4-5"), hooks=[otel.telemetry])
    with pytest.raises(ResilienceError) as info:
        await pipeline.run(sdk_handler(provider), CALL)

    assert provider.prompts == [PROMPT] * 3  # the scenario really sent it
    # Three failed attempts, each classified (the exact kinds are the
    # classifier's business; here they only prove the errors went through it).
    kinds = [dict(s.attributes or {}).get("error.type") for s in otel.named("attempt ")]
    assert len(kinds) == 3 and all(kinds) and "auth" in kinds
    assert_clean("exported spans", exported_text(otel))
    assert_clean("log records", logged_text(logs))
    assert_error_clean(info.value)
    assert info.value.__cause__ is not None  # the cause is kept, just not printed


async def test_gateway_page_quoting_the_authorization_header_leaks_nothing(
    provider: LeakyProvider, logs: pytest.LogCaptureFixture
) -> None:
    provider.script["openai"] = [_gateway_page]
    otel = make_otel()
    with pytest.raises(ResilienceError) as info:
        await Pipeline(Retrying(tries=2), hooks=[otel.telemetry]).run(sdk_handler(provider), CALL)
    assert [dict(s.attributes or {})["resilience.failure.bucket"] for s in otel.spans()] == [
        "gateway",
        "gateway",
        "gateway",
    ]
    assert_clean("exported spans", exported_text(otel))
    assert_clean("log records", logged_text(logs))
    assert_error_clean(info.value)


@MIDDLEWARES
async def test_a_successful_call_records_neither_prompt_nor_completion(
    provider: LeakyProvider, logs: pytest.LogCaptureFixture, middlewares: Any
) -> None:
    provider.script["openai"] = [_openai_ok]
    otel = make_otel()
    pipeline = Pipeline(*middlewares("anthropic/claude-sonnet-4-5"), hooks=[otel.telemetry])
    result = await pipeline.run(sdk_handler(provider), CALL)
    assert result == COMPLETION
    assert provider.prompts == [PROMPT]
    assert len(otel.spans()) == 2
    assert_clean("exported spans", exported_text(otel))
    assert_clean("log records", logged_text(logs))


async def test_a_handler_bug_quoting_the_key_stays_out_of_telemetry(
    logs: pytest.LogCaptureFixture,
) -> None:
    """An unclassified exception propagates unchanged (it is the caller's),
    but telemetry records only its class name."""

    async def handler(call: Call) -> str:
        raise RuntimeError(f"client misconfigured with {OPENAI_KEY} for {PROMPT}")

    otel = make_otel()
    with pytest.raises(RuntimeError):
        await Pipeline(Retrying(), hooks=[otel.telemetry]).run(handler, CALL)
    assert dict(otel.one("chat gpt-4o").attributes or {})["error.type"] == "RuntimeError"
    assert_clean("exported spans", exported_text(otel))
    assert_clean("log records", logged_text(logs))
