"""A client middleware for ``aiohttp.ClientSession(middlewares=[...])``.

>>> session = aiohttp.ClientSession(middlewares=[ResilienceMiddleware()])

Each LLM request the session sends runs through a Pipeline: the provider is
named by the host (or ``provider=``), the model and the features by the JSON
body. A non-2xx answer is read (the body stays readable for the caller: aiohttp
keeps what ``read()`` returned), classified, and raised inside the pipeline, so
the retry, breaker and limiter act on it; the headers of every answer resync
the limiter. When the pipeline finally gives up on an answer, the caller gets
that last response, as aiohttp would have returned it; only a call the
pipeline refused outright (open circuit, deadline, limiter) raises.

Fallback moves between models of the same endpoint (the middleware rewrites
``model`` in the JSON body) and turns features off the same way (drops
``tools``, ``response_format``, ``stream``); moving to another host is not
possible from inside an aiohttp middleware.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

try:
    import aiohttp
    from aiohttp import ClientRequest, ClientResponse
except ImportError as exc:  # pragma: no cover - aiohttp is a core dependency
    from ._kit import missing_host

    raise ImportError(missing_host("aiohttp", "aiohttp")) from exc

from resilience import (
    Call,
    ConfigError,
    Failure,
    Pipeline,
    ProviderError,
    ResilienceError,
    classify,
    report,
)
from resilience.wire import format_for_path

from ._kit import as_int, default_pipeline, estimate_tokens

__all__ = ["KNOWN_HOSTS", "SUPPORTED", "FailedResponse", "ResilienceMiddleware"]

SUPPORTED = "aiohttp>=3.12,<4"
"""Client middlewares arrived in aiohttp 3.12."""

_version = tuple(int(p) for p in aiohttp.__version__.split(".")[:2] if p.isdigit())
if _version < (3, 12):  # pragma: no cover - the installed aiohttp is newer
    raise ImportError(
        f"resilience.adapters.aiohttp needs aiohttp>=3.12 (client middlewares); "
        f"found {aiohttp.__version__}: pip install -U 'aiohttp>=3.12'"
    )

KNOWN_HOSTS: Mapping[str, str] = {
    "api.openai.com": "openai",
    "api.anthropic.com": "anthropic",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral",
    "api.deepseek.com": "deepseek",
    "api.together.xyz": "together",
    "api.fireworks.ai": "fireworks",
    "api.x.ai": "xai",
    "openrouter.ai": "openrouter",
    "generativelanguage.googleapis.com": "google",
    "router.requesty.ai": "requesty",
}
"""Host names the middleware recognises as LLM providers without being told."""

_MAX_BODY = 8 * 1024 * 1024  # larger request bodies are not parsed for the model


class FailedResponse(ProviderError):
    """A non-2xx answer, classified; ``response`` is aiohttp's own response,
    already read, so ``await response.json()`` still works."""

    def __init__(self, failure: Failure, response: ClientResponse, *, call: Call) -> None:
        super().__init__(failure, call=call)
        self.response = response


def _response_of(exc: BaseException) -> ClientResponse | None:
    """The last provider response behind a pipeline error, if there was one."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, FailedResponse):
            return err.response
        errors = getattr(err, "errors", None)
        if isinstance(errors, tuple) and errors:
            last = errors[-1]
            if isinstance(last, tuple) and len(last) == 2:
                todo.append(last[1])
        todo.append(err.__cause__)
    return None


class ResilienceMiddleware:
    """Run an aiohttp session's LLM requests through a pipeline.

    ``pipeline``: default Retry, CircuitBreaker, adaptive RateLimiter.
    ``provider``/``model``: fixed names, else from the host (``KNOWN_HOSTS``
    plus ``hosts=``) and the JSON body's ``model``. Requests to a host that
    is not known and whose body names no model pass through untouched.
    ``timeout``: seconds for the whole logical call. ``raise_for_failure``:
    raise the pipeline's ``ResilienceError`` instead of returning the last
    failed response.
    """

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        *,
        provider: str | None = None,
        model: str | None = None,
        hosts: Mapping[str, str] | None = None,
        timeout: float | None = None,
        raise_for_failure: bool = False,
    ) -> None:
        if provider is not None and (not isinstance(provider, str) or not provider):
            raise ConfigError("provider", provider, "a non-empty provider name or None")
        if model is not None and (not isinstance(model, str) or not model):
            raise ConfigError("model", model, "a non-empty model name or None")
        if pipeline is not None and not isinstance(pipeline, Pipeline):
            raise ConfigError("pipeline", type(pipeline).__name__, "a resilience.Pipeline")
        self.pipeline = pipeline if pipeline is not None else default_pipeline()
        self.provider = provider
        self.model = model
        self.hosts = {**KNOWN_HOSTS, **(hosts or {})}
        self.timeout = timeout
        self.raise_for_failure = raise_for_failure

    async def _body(self, request: ClientRequest) -> dict[str, Any] | None:
        payload = request.body
        if not isinstance(payload, aiohttp.payload.BytesPayload):
            return None
        size = payload.size
        if size is None or size > _MAX_BODY:
            return None
        try:
            data = json.loads(await payload.as_bytes())
        except (ValueError, UnicodeDecodeError):
            return None
        return data if isinstance(data, dict) else None

    async def __call__(self, request: ClientRequest, handler: Any) -> ClientResponse:
        body = await self._body(request) if request.method == "POST" else None
        host = request.url.host or ""
        provider = self.provider or self.hosts.get(host)
        body_model = body.get("model") if body is not None else None
        model = self.model or (body_model if isinstance(body_model, str) and body_model else None)
        if provider is None and model is None:
            result: ClientResponse = await handler(request)
            return result
        wire = format_for_path(request.url.path)
        features = wire.features(body) if body is not None else frozenset()
        call = Call(
            provider=provider or host or "unknown",
            model=model or "unknown",
            input_tokens=estimate_tokens(
                body.get("system"), body.get("messages"), body.get("input"), body.get("tools")
            )
            if body is not None
            else 0,
            max_output_tokens=(
                as_int(body.get("max_tokens")) or as_int(body.get("max_completion_tokens"))
            )
            if body is not None
            else 0,
            features=features,
            timeout=self.timeout,
        )
        sent = [(call.model, frozenset[str]())]  # what the request body says now

        async def attempt(c: Call) -> ClientResponse:
            dropped = features - c.features
            if body is not None and (c.model, dropped) != sent[0]:
                await request.update_body(
                    json.dumps({**wire.without(body, dropped), "model": c.model}).encode()
                )
                sent[0] = (c.model, dropped)
            response: ClientResponse = await handler(request)
            report(headers=response.headers)
            if response.status < 400:
                return response
            try:
                raw: bytes | None = await response.read()
            except (aiohttp.ClientError, OSError):
                raw = None
            failure = classify(
                status=response.status, headers=response.headers, body=raw, provider=c.provider
            )
            raise FailedResponse(failure, response, call=c)

        try:
            result = await self.pipeline.run(attempt, call)
        except ResilienceError as exc:
            last = None if self.raise_for_failure else _response_of(exc)
            if last is None:
                raise
            return last
        return result

    def __repr__(self) -> str:
        return f"ResilienceMiddleware({self.pipeline!r})"
