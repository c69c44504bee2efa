"""LangChain: a resilient chat model, a callback handler, a rate limiter.

- :class:`ResilientChatModel` (a ``BaseChatModel``): primary and fallback
  models behind one Pipeline; ``bind_tools`` and ``with_structured_output``
  work, streams are moved only before their first chunk.
- :class:`ResilienceCallbackHandler`: for a model you keep unchanged. Feeds
  breaker and limiter from the callbacks and records spans; with
  ``raise_error=True`` it also holds each call for the limiter in
  ``on_chat_model_start`` and rejects it while the breaker is open.
  LangChain calls back once per model call, not per HTTP attempt: leave the
  model's own ``max_retries`` low, or use ResilientChatModel.
- :class:`ResilienceRateLimiter`: a ``BaseRateLimiter`` for ``rate_limiter=``
  backed by our limiter (which then knows nothing about each request: a
  fixed cost per call).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

try:
    from langchain_core.callbacks import AsyncCallbackHandler
    from langchain_core.rate_limiters import BaseRateLimiter
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ._kit import missing_host

    raise ImportError(missing_host("langchain-core", "langchain")) from exc

from resilience import Call, Clock, ConfigError, Guard, Pipeline, ResilienceError, Ticket, classify
from resilience.wire import LANGCHAIN, OPENAI_CHAT

from ._kit import as_int, estimate_tokens
from ._langchain_model import (
    ResilientChatModel,
    target_of,
    without_retries,
)

__all__ = [
    "SUPPORTED",
    "ResilienceCallbackHandler",
    "ResilienceRateLimiter",
    "ResilientChatModel",
    "target_of",
    "without_retries",
]

SUPPORTED = "langchain-core>=1.0,<1.8"
"""The langchain-core versions this adapter is tested with (the ``langchain``
extra, with langchain-openai and langchain-anthropic)."""


def _call_for(
    serialized: Mapping[str, Any] | None,
    metadata: Mapping[str, Any] | None,
    params: Mapping[str, Any] | None,
    content: Any,
) -> Call:
    meta = metadata or {}
    params = params or {}
    provider = meta.get("ls_provider") or params.get("_type") or "unknown"
    model = meta.get("ls_model_name") or params.get("model_name") or params.get("model")
    if not model and serialized:
        model = (serialized.get("kwargs") or {}).get("model_name") or serialized.get("name")
    return Call(
        provider=str(provider),
        model=str(model or "unknown"),
        input_tokens=estimate_tokens(content, params.get("tools")),
        max_output_tokens=as_int(meta.get("ls_max_tokens")) or as_int(params.get("max_tokens")),
        features=LANGCHAIN.features(params),
    )


def _first_message(response: Any) -> Any:
    try:
        return response.generations[0][0].message
    except (AttributeError, IndexError, TypeError):
        return None


def _usage(response: Any) -> dict[str, int] | None:
    meta = getattr(_first_message(response), "usage_metadata", None)
    if meta:
        return LANGCHAIN.usage(meta)
    # Older integrations report in llm_output, in their provider's own fields.
    output = getattr(response, "llm_output", None) or {}
    usage = output.get("token_usage") or output.get("usage") or {}
    if not isinstance(usage, Mapping) or not usage:
        return None
    return OPENAI_CHAT.usage(usage) or LANGCHAIN.usage(usage)


def _headers(response: Any) -> dict[str, str] | None:
    meta = getattr(_first_message(response), "response_metadata", None) or {}
    headers = meta.get("headers")
    return dict(headers) if isinstance(headers, Mapping) else None


def _default_pipeline(
    limiter: Any, breaker: Any, hooks: Sequence[Any], clock: Clock | None
) -> Pipeline:
    if breaker is None:
        from resilience import CircuitBreaker

        breaker = CircuitBreaker()
    if limiter is None:
        from resilience import RateLimiter

        limiter = RateLimiter()
    return Pipeline(breaker, limiter, hooks=list(hooks), clock=clock)


class ResilienceCallbackHandler(AsyncCallbackHandler):  # type: ignore[misc]
    """Breaker, limiter and telemetry for an unchanged LangChain model.

    ``callbacks=[ResilienceCallbackHandler(raise_error=True)]`` on the model
    (or in the run config). Every model call waits on the limiter before it
    starts and is counted by the breaker when it ends; with
    ``raise_error=True`` a call whose breaker is open fails at once with
    ``CircuitOpenError`` (without it, LangChain would log and swallow that).
    Spans go to ``hooks=[Telemetry()]``. Async invocation only
    (``ainvoke``/``astream``/``abatch``): a sync ``invoke`` runs async
    handlers on a throwaway loop.
    """

    def __init__(
        self,
        *,
        limiter: Any = None,
        breaker: Any = None,
        pipeline: Pipeline | None = None,
        hooks: Sequence[Any] = (),
        clock: Clock | None = None,
        raise_error: bool = False,
        max_hold: float = 900.0,
    ) -> None:
        super().__init__()
        if pipeline is not None and (limiter is not None or breaker is not None or hooks):
            raise ConfigError(
                "pipeline", pipeline, "either pipeline= or limiter=/breaker=/hooks=, not both"
            )
        if pipeline is None:
            pipeline = _default_pipeline(limiter, breaker, hooks, clock)
        self.guard = Guard(pipeline, max_hold=max_hold)
        self.raise_error = bool(raise_error)
        self._open: dict[UUID, Ticket] = {}

    @property
    def open_calls(self) -> int:
        return len(self._open)

    async def _start(self, run_id: UUID, call: Call) -> None:
        try:
            ticket = await self.guard.enter(call)
        except ResilienceError:
            if self.raise_error:
                raise
            return
        self._open[run_id] = ticket

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[Any]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params")
        await self._start(run_id, _call_for(serialized, metadata, params, messages))

    async def on_llm_start(
        self,
        serialized: dict[str, Any],
        prompts: list[str],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        params = kwargs.get("invocation_params")
        await self._start(run_id, _call_for(serialized, metadata, params, prompts))

    async def on_llm_end(
        self,
        response: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        ticket = self._open.pop(run_id, None)
        if ticket is None:
            return
        message = _first_message(response)
        meta = getattr(message, "response_metadata", None) or {}
        model = meta.get("model_name") or meta.get("model")
        ticket.succeed(
            usage=_usage(response),
            headers=_headers(response),
            response_model=model if isinstance(model, str) else None,
        )

    async def on_llm_error(
        self,
        error: BaseException,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        ticket = self._open.pop(run_id, None)
        if ticket is None:
            return
        if isinstance(error, asyncio.CancelledError | ResilienceError):
            ticket.cancel()
            return
        headers = _headers(kwargs.get("response"))
        failure = classify(error, headers=headers, provider=ticket.call.provider)
        ticket.fail(failure, headers=headers)

    async def aclose(self) -> None:
        """Give back everything still held."""
        for ticket in self._open.values():
            ticket.cancel()
        self._open.clear()
        await self.guard.aclose()


class ResilienceRateLimiter(BaseRateLimiter):  # type: ignore[misc]
    """``rate_limiter=ResilienceRateLimiter(provider="openai", model="gpt-4o")``.

    LangChain asks a rate limiter for permission with nothing about the
    request, so each call is charged one request and ``tokens_per_call``
    tokens against the ``provider``/``model`` limits of ``limiter`` (default:
    an adaptive RateLimiter; share one with a ResilienceCallbackHandler or a
    Pipeline to have 429s and headers tune it). Nothing is held during the
    call: concurrency limits do not apply here.
    """

    def __init__(
        self,
        limiter: Any = None,
        *,
        provider: str,
        model: str = "default",
        tokens_per_call: int = 0,
    ) -> None:
        if limiter is None:
            from resilience import RateLimiter

            limiter = RateLimiter()
        if not hasattr(limiter, "acquire"):
            raise ConfigError("limiter", type(limiter).__name__, "a resilience RateLimiter")
        if isinstance(tokens_per_call, bool) or not isinstance(tokens_per_call, int):
            raise ConfigError("tokens_per_call", tokens_per_call, "an int >= 0")
        self.limiter = limiter
        self.call = Call(provider=provider, model=model, input_tokens=tokens_per_call)

    async def aacquire(self, *, blocking: bool = True) -> bool:
        if blocking:
            permit = await self.limiter.acquire(self.call)
        else:
            # Admitted now or not at all: give the limiter one step, then take
            # back the attempt (cancelling a waiting acquire frees its place).
            attempt = asyncio.ensure_future(self.limiter.acquire(self.call))
            await asyncio.sleep(0)
            if not attempt.done():
                attempt.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await attempt
                return False
            permit = attempt.result()
        # The call itself is not ours to watch: keep the charge, hold nothing.
        permit.release()
        return True

    def acquire(self, *, blocking: bool = True) -> bool:
        """Sync models wait on an event loop of their own."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.aacquire(blocking=blocking))
        # Called synchronously from inside a running loop: waiting here would
        # block it, so only an immediate admission is possible.
        return False
