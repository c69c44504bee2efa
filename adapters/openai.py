"""Wrap an ``openai.AsyncOpenAI`` client so its calls run through a Pipeline.

>>> client = resilient(AsyncOpenAI(), provider="openai")
>>> await client.chat.completions.create(model="gpt-4o-mini", messages=[...])

``chat.completions.create`` and ``responses.create`` (streaming included) go
through the pipeline; everything else is the original client. The wrapped
client sends with ``max_retries=0`` (the pipeline owns retrying), reads the
response headers of every attempt (``with_raw_response``, a public SDK
feature) so the limiter stays in sync, and reports usage. Fallback to another
model needs nothing more; to another OpenAI-compatible provider, give its
client in ``clients={"groq": AsyncOpenAI(base_url=...)}``.

Chat streams are checked for truncation (no ``finish_reason``) and, with
``resume="continue"``, a stream that breaks after its first chunk is
continued on a target that can (``continue_final_message`` on vLLM-style
servers; OpenAI itself cannot, see :class:`resilience.Continuations`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

try:
    import openai
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ._kit import missing_host

    raise ImportError(missing_host("openai", "openai")) from exc

from resilience import Call, ConfigError, Pipeline, report
from resilience.wire import (
    CONTINUE_FINAL_MESSAGE,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    AttemptState,
    current_continuation,
)

from ._kit import (
    ResilientClient,
    ResilientStream,
    WatchedStream,
    as_int,
    estimate_tokens,
    parsed,
    set_usage,
)
from ._stream_openai import (
    ChatChunks,
    continue_chat,
)

__all__ = ["SUPPORTED", "ResilientAsyncOpenAI", "resilient"]

SUPPORTED = "openai>=1.99,<4"
"""The openai versions this adapter is tested with (the ``openai`` extra)."""

# Every target of this adapter speaks OpenAI chat; vLLM-style servers continue.
_CHAT = ChatChunks(frozenset({CONTINUE_FINAL_MESSAGE}))


def _quiet(client: Any) -> Any:
    """The same client with the SDK's own retries off."""
    if getattr(client, "max_retries", None) == 0:
        return client
    return client.with_options(max_retries=0)


def _on_chat_chunk(chunk: Any, state: AttemptState | None) -> None:
    usage = OPENAI_CHAT.usage(getattr(chunk, "usage", None))
    set_usage(state, usage)


def _on_responses_event(event: Any, state: AttemptState | None) -> None:
    response = getattr(event, "response", None)
    if response is not None:
        set_usage(state, OPENAI_RESPONSES.usage(getattr(response, "usage", None)))


async def _as_chunks(completion: Any) -> AsyncIterator[Any]:
    """A non-streamed completion as the one chunk a stream would have carried
    (for a model that cannot stream: the caller still iterates)."""
    from openai.types.chat import ChatCompletionChunk

    choices = []
    for choice in completion.choices:
        msg = choice.message
        delta: dict[str, Any] = {"role": "assistant", "content": msg.content}
        if msg.tool_calls:
            delta["tool_calls"] = [
                {
                    "index": i,
                    "id": tc.id,
                    "type": "function",
                    "function": {"name": tc.function.name, "arguments": tc.function.arguments},
                }
                for i, tc in enumerate(msg.tool_calls)
                if getattr(tc, "function", None) is not None
            ]
        choices.append(
            {"index": choice.index, "delta": delta, "finish_reason": choice.finish_reason}
        )
    yield ChatCompletionChunk.model_validate(
        {
            "id": completion.id,
            "object": "chat.completion.chunk",
            "created": completion.created,
            "model": completion.model,
            "choices": choices,
            "usage": completion.usage.model_dump() if completion.usage is not None else None,
        }
    )


class ResilientAsyncOpenAI(ResilientClient):
    """An ``AsyncOpenAI`` whose chat completions and responses run through a
    pipeline. Any other attribute is the wrapped client's own."""

    _REQUIRED = "chat"
    _PROVIDER = "openai"
    _EXPECTED = "an openai.AsyncOpenAI"

    _quiet = staticmethod(_quiet)

    def _attach(self) -> None:
        self.chat = _Chat(self)
        self.responses = _Responses(self)

    async def _run(
        self,
        params: dict[str, Any],
        features: frozenset[str],
        send: Any,
        input_parts: tuple[Any, ...],
        max_output: int,
    ) -> Any:
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise ConfigError("model", model, "a model name")
        call = Call(
            provider=self._provider,
            model=model,
            input_tokens=estimate_tokens(*input_parts),
            max_output_tokens=max_output,
            features=features,
            timeout=self._timeout,
        )

        async def handler(c: Call) -> Any:
            return await send(self.client_for(c.provider), c, params, features - c.features)

        result = await self._pipeline.run(handler, call)
        if features & {"stream"} and hasattr(result, "__anext__"):
            return ResilientStream(result, call)
        return result


class _Completions:
    def __init__(self, owner: ResilientAsyncOpenAI) -> None:
        self._owner = owner

    async def create(self, **params: Any) -> Any:
        """``chat.completions.create`` through the pipeline: returns the SDK's
        ``ChatCompletion``, or a stream with ``AsyncStream``'s API."""
        features = OPENAI_CHAT.features(params)
        max_out = as_int(params.get("max_completion_tokens")) or as_int(params.get("max_tokens"))
        return await self._owner._run(
            params,
            features,
            self._send,
            (params.get("messages"), params.get("tools")),
            max_out,
        )

    @staticmethod
    async def _send(
        client: Any, call: Call, params: Mapping[str, Any], dropped: frozenset[str]
    ) -> Any:
        req = OPENAI_CHAT.without(params, dropped)
        req["model"] = call.model
        continuation = current_continuation()
        if continuation is not None:
            req = continue_chat(req, continuation)
        raw = await client.chat.completions.with_raw_response.create(**req)
        report(headers=raw.headers)
        result = await parsed(raw)
        if req.get("stream"):
            return WatchedStream(result, _on_chat_chunk, _CHAT)
        report(usage=OPENAI_CHAT.usage(result.usage), response_model=result.model)
        if "stream" in dropped:
            return _as_chunks(result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.chat.completions, name)


class _Chat:
    def __init__(self, owner: ResilientAsyncOpenAI) -> None:
        self._owner = owner
        self.completions = _Completions(owner)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.chat, name)


class _Responses:
    def __init__(self, owner: ResilientAsyncOpenAI) -> None:
        self._owner = owner

    async def create(self, **params: Any) -> Any:
        """``responses.create`` through the pipeline. A model that cannot
        stream keeps streaming here (no event sequence is synthesised)."""
        features = OPENAI_RESPONSES.features(params)
        return await self._owner._run(
            params,
            features,
            self._send,
            (params.get("input"), params.get("instructions"), params.get("tools")),
            as_int(params.get("max_output_tokens")),
        )

    @staticmethod
    async def _send(
        client: Any, call: Call, params: Mapping[str, Any], dropped: frozenset[str]
    ) -> Any:
        # A model that cannot stream keeps streaming here: no Responses event
        # sequence is made up for it.
        req = OPENAI_RESPONSES.without(params, dropped - {"stream"})
        req["model"] = call.model
        raw = await client.responses.with_raw_response.create(**req)
        report(headers=raw.headers)
        result = await parsed(raw)
        if req.get("stream"):
            return WatchedStream(result, _on_responses_event)
        report(usage=OPENAI_RESPONSES.usage(result.usage), response_model=result.model)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.responses, name)


def resilient(
    client: Any,
    *,
    pipeline: Pipeline | None = None,
    provider: str = "openai",
    clients: Mapping[str, Any] | None = None,
    fallbacks: Sequence[str] = (),
    timeout: float | None = None,
    first_chunk_timeout: float | None = None,
    chunk_timeout: float | None = None,
    resume: str | None = None,
) -> ResilientAsyncOpenAI:
    """Wrap ``client`` (an ``openai.AsyncOpenAI``).

    ``pipeline``: the middlewares to run through (default: Retry,
    CircuitBreaker, adaptive RateLimiter; with ``fallbacks``, a Fallback over
    those ``"provider/model"`` targets first). ``provider``: the name this
    client's calls are keyed under. ``clients``: OpenAI-compatible clients of
    the other providers a fallback may move to. ``timeout``: seconds for the
    whole logical call, every retry and hop included. For the default
    pipeline, streams: ``first_chunk_timeout`` (seconds to the first chunk,
    then the call moves on), ``chunk_timeout`` (seconds of silence that break
    a stream), ``resume="continue"`` (continue a broken stream on a target
    that can).
    """
    if not isinstance(client, openai.AsyncOpenAI) and not hasattr(client, "chat"):
        raise ConfigError("client", type(client).__name__, "an openai.AsyncOpenAI")
    return ResilientAsyncOpenAI(
        client,
        pipeline=pipeline,
        provider=provider,
        clients=clients,
        fallbacks=fallbacks,
        timeout=timeout,
        first_chunk_timeout=first_chunk_timeout,
        chunk_timeout=chunk_timeout,
        resume=resume,
    )
