"""Wrap an ``anthropic.AsyncAnthropic`` client so its calls run through a Pipeline.

>>> client = resilient(AsyncAnthropic(), provider="anthropic")
>>> await client.messages.create(model="claude-sonnet-4-5", max_tokens=512, messages=[...])

``messages.create`` (``stream=True`` included) goes through the pipeline;
everything else is the original client. The wrapped client sends with
``max_retries=0`` and, where the SDK has them, its own OpenTelemetry spans off
(the pipeline's spans cover every attempt). Each attempt's response headers are
read through ``with_raw_response``, a public SDK feature, for the limiter.

Streams are checked for truncation (no ``message_stop``) and, with
``resume="continue"``, a stream that breaks after its first event is
continued by a prefill on a model that takes one (not Claude 4.6 and later;
see :class:`resilience.Continuations`).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

try:
    import anthropic
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ._kit import missing_host

    raise ImportError(missing_host("anthropic", "anthropic")) from exc

from resilience import Call, ConfigError, Pipeline, report
from resilience.wire import ANTHROPIC_MESSAGES, AttemptState, current_continuation

from ._kit import (
    ResilientClient,
    ResilientStream,
    WatchedStream,
    as_int,
    estimate_tokens,
    parsed,
)
from ._stream_anthropic import (
    MessageEvents,
    continue_messages,
)

__all__ = ["SUPPORTED", "ResilientAsyncAnthropic", "resilient"]

SUPPORTED = "anthropic>=0.60,<3"
"""The anthropic versions this adapter is tested with (the ``anthropic`` extra)."""

_EVENTS = MessageEvents()


def _quiet(client: Any) -> Any:
    """The same client with the SDK's retries off, and its spans off where it
    emits any (``open_telemetry=`` exists from anthropic 2.x)."""
    options: dict[str, Any] = {}
    if getattr(client, "max_retries", None) != 0:
        options["max_retries"] = 0
    try:
        params = inspect.signature(client.with_options).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    if "open_telemetry" in params:
        options["open_telemetry"] = False
    return client.with_options(**options) if options else client


def _on_event(event: Any, state: AttemptState | None) -> None:
    if state is None:
        return
    kind = getattr(event, "type", None)
    if kind == "message_start":
        got = ANTHROPIC_MESSAGES.usage(getattr(getattr(event, "message", None), "usage", None))
    elif kind == "message_delta":
        # Output tokens here are cumulative; input tokens came with message_start.
        out = as_int(getattr(getattr(event, "usage", None), "output_tokens", 0))
        got = {"output_tokens": out} if out else None
    else:
        return
    if got:
        state.usage = {**(state.usage or {}), **got}


async def _as_events(message: Any) -> AsyncIterator[Any]:
    """A non-streamed message as the event sequence a stream would have
    carried (text and tool-use blocks), for a model that cannot stream."""
    from pydantic import TypeAdapter

    adapter: TypeAdapter[Any] = TypeAdapter(anthropic.types.RawMessageStreamEvent)
    usage = message.usage
    yield adapter.validate_python(
        {
            "type": "message_start",
            "message": {
                "id": message.id,
                "type": "message",
                "role": "assistant",
                "model": message.model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": usage.input_tokens, "output_tokens": 0},
            },
        }
    )
    index = 0
    for block in message.content:
        if block.type == "text":
            start: dict[str, Any] = {"type": "text", "text": ""}
            delta: dict[str, Any] = {"type": "text_delta", "text": block.text}
        elif block.type == "tool_use":
            start = {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block.input)}
        else:
            continue
        yield adapter.validate_python(
            {"type": "content_block_start", "index": index, "content_block": start}
        )
        yield adapter.validate_python(
            {"type": "content_block_delta", "index": index, "delta": delta}
        )
        yield adapter.validate_python({"type": "content_block_stop", "index": index})
        index += 1
    yield adapter.validate_python(
        {
            "type": "message_delta",
            "delta": {"stop_reason": message.stop_reason, "stop_sequence": message.stop_sequence},
            "usage": {"output_tokens": usage.output_tokens},
        }
    )
    yield adapter.validate_python({"type": "message_stop"})


class ResilientAsyncAnthropic(ResilientClient):
    """An ``AsyncAnthropic`` whose ``messages.create`` runs through a
    pipeline. Any other attribute is the wrapped client's own."""

    _REQUIRED = "messages"
    _PROVIDER = "anthropic"
    _EXPECTED = "an anthropic.AsyncAnthropic"

    _quiet = staticmethod(_quiet)

    def _attach(self) -> None:
        self.messages = _Messages(self)


class _Messages:
    def __init__(self, owner: ResilientAsyncAnthropic) -> None:
        self._owner = owner

    async def create(self, **params: Any) -> Any:
        """``messages.create`` through the pipeline: returns the SDK's
        ``Message``, or a stream with ``AsyncStream``'s API."""
        owner = self._owner
        model = params.get("model")
        if not isinstance(model, str) or not model:
            raise ConfigError("model", model, "a model name")
        features = ANTHROPIC_MESSAGES.features(params)
        call = Call(
            provider=owner._provider,
            model=model,
            input_tokens=estimate_tokens(
                params.get("system"), params.get("messages"), params.get("tools")
            ),
            max_output_tokens=as_int(params.get("max_tokens")),
            features=features,
            timeout=owner._timeout,
        )

        async def handler(c: Call) -> Any:
            return await _send(owner.client_for(c.provider), c, params, features - c.features)

        result = await owner._pipeline.run(handler, call)
        if "stream" in features and hasattr(result, "__anext__"):
            return ResilientStream(result, call)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._owner._client.messages, name)


async def _send(client: Any, call: Call, params: Mapping[str, Any], dropped: frozenset[str]) -> Any:
    req = ANTHROPIC_MESSAGES.without(params, dropped)
    req["model"] = call.model
    continuation = current_continuation()
    if continuation is not None:
        req = continue_messages(req, continuation)
    raw = await client.messages.with_raw_response.create(**req)
    report(headers=raw.headers)
    result = await parsed(raw)
    if req.get("stream"):
        return WatchedStream(result, _on_event, _EVENTS)
    report(usage=ANTHROPIC_MESSAGES.usage(result.usage), response_model=result.model)
    if "stream" in dropped:
        return _as_events(result)
    return result


def resilient(
    client: Any,
    *,
    pipeline: Pipeline | None = None,
    provider: str = "anthropic",
    clients: Mapping[str, Any] | None = None,
    fallbacks: Sequence[str] = (),
    timeout: float | None = None,
    first_chunk_timeout: float | None = None,
    chunk_timeout: float | None = None,
    resume: str | None = None,
) -> ResilientAsyncAnthropic:
    """Wrap ``client`` (an ``anthropic.AsyncAnthropic``).

    ``pipeline``: the middlewares to run through (default: Retry,
    CircuitBreaker, adaptive RateLimiter; with ``fallbacks``, a Fallback over
    those ``"provider/model"`` targets first). ``clients``: clients of other
    Anthropic-compatible providers a fallback may move to. ``timeout``:
    seconds for the whole logical call, every retry and hop included. For the
    default pipeline, streams: ``first_chunk_timeout``, ``chunk_timeout``,
    ``resume="continue"`` (see :func:`resilience.adapters.openai.resilient`).
    """
    if not isinstance(client, anthropic.AsyncAnthropic) and not hasattr(client, "messages"):
        raise ConfigError("client", type(client).__name__, "an anthropic.AsyncAnthropic")
    return ResilientAsyncAnthropic(
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
