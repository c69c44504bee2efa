"""LiteLLM: a callback that guards every attempt, and a full-pipeline wrapper.

``ResilienceCallback`` is a ``CustomLogger`` for ``litellm.callbacks`` (the
only registration that reaches the deployment hooks; ``Router(callbacks=...)``
does not). Per attempt, in litellm 1.106, for plain ``acompletion`` and for
``Router`` alike:

- ``async_pre_call_deployment_hook`` runs in the caller's task once the
  deployment is known: we wait on the limiter there, and raise
  ``CircuitOpenError`` while the deployment's breaker is open (the caller, or
  the Router's fallback logic, gets that exception; no request is sent);
- ``async_post_call_failure_deployment_hook`` and
  ``async_post_call_success_deployment_hook`` run inline after a failed or a
  (non-streamed) successful attempt: we classify the failure, feed breaker and
  limiter, and reconcile usage and rate-limit headers;
- a streamed success ends in ``async_log_success_event`` (a background task,
  after the last chunk); ``async_log_failure_event`` catches failures no
  deployment hook saw (a stream breaking midway).

The deployment key is provider, api_base and model: the provider is
``"openai"`` for the provider's own endpoint and ``"openai@host:port"`` for a
custom ``api_base``, so two deployments have separate limits and breakers.

``ResilientLiteLLM`` instead runs ``litellm.acompletion`` through a whole
Pipeline (retry, breaker, limiter, fallback across providers), with LiteLLM's
own retries off. Its streams are checked for truncation (LiteLLM's own
made-up finish included) and, with ``resume="continue"``, continued after a
break by a prefill (Claude models) or ``continue_final_message``
(``hosted_vllm``), which LiteLLM passes on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

try:
    import litellm
    from litellm.integrations.custom_logger import CustomLogger
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    from ._kit import missing_host

    raise ImportError(missing_host("litellm", "litellm")) from exc

from resilience import (
    Call,
    Clock,
    ConfigError,
    Guard,
    Pipeline,
    ResilienceError,
    Ticket,
    classify,
    report,
)
from resilience.wire import (
    CONTINUE_FINAL_MESSAGE,
    LITELLM,
    PREFILL,
    AttemptState,
    current_continuation,
)

from ._kit import (
    ResilientStream,
    WatchedStream,
    as_int,
    default_pipeline,
    estimate_tokens,
    set_usage,
)
from ._stream_openai import (
    ChatChunks,
    HonestLiteLLMStream,
    continue_chat,
)

__all__ = ["SUPPORTED", "ResilienceCallback", "ResilientLiteLLM", "split_model"]

SUPPORTED = "litellm>=1.70,<1.107"
"""The litellm versions this adapter is tested with (the ``litellm`` extra).
The deployment hooks it relies on were verified in 1.106."""

_HEADER_PREFIX = "llm_provider-"
# LiteLLM gives OpenAI-shaped chunks whatever the provider, and turns a final
# assistant message into the provider's prefill.
_CHUNKS = ChatChunks(frozenset({PREFILL, CONTINUE_FINAL_MESSAGE}))


def split_model(model: str, custom_llm_provider: str | None = None) -> tuple[str, str]:
    """``"openai/gpt-4o"`` -> ``("openai", "gpt-4o")``, asking LiteLLM when the
    prefix is not a provider it knows; ``("unknown", model)`` if it cannot tell."""
    if custom_llm_provider:
        prefix = f"{custom_llm_provider}/"
        return custom_llm_provider, model[len(prefix) :] if model.startswith(prefix) else model
    head, sep, rest = model.partition("/")
    if sep and rest and head in {str(getattr(p, "value", p)) for p in litellm.provider_list}:
        return head, rest
    try:
        name, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:
        return "unknown", model
    return str(provider), str(name)


def _deployment(provider: str, api_base: Any) -> str:
    """The provider key: plain for the provider's own endpoint, with host and
    port for a custom ``api_base`` (never any credentials from the URL)."""
    if not isinstance(api_base, str) or not api_base:
        return provider
    try:
        parts = urlsplit(api_base)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return provider
    if not host:
        return provider
    return f"{provider}@{host}:{port}" if port else f"{provider}@{host}"


def _usage(response: Any) -> dict[str, int] | None:
    got = LITELLM.usage(getattr(response, "usage", None))
    return got if got and any(got.values()) else None


def _headers(source: Any) -> dict[str, str] | None:
    """Provider response headers from a LiteLLM response or exception
    (LiteLLM prefixes them ``llm_provider-``)."""
    raw = getattr(source, "litellm_response_headers", None)
    if raw is None:
        hidden = getattr(source, "_hidden_params", None)
        if isinstance(hidden, Mapping):
            raw = hidden.get("additional_headers")
    if raw is None:
        return None
    try:
        items = list(raw.items())
    except Exception:
        return None
    out: dict[str, str] = {}
    for key, value in items:
        name = str(key).lower()
        if name.startswith(_HEADER_PREFIX):
            name = name[len(_HEADER_PREFIX) :]
        out.setdefault(name, str(value))
    return out


def call_for(kwargs: Mapping[str, Any]) -> Call:
    """The :class:`Call` describing one LiteLLM request's kwargs."""
    model = kwargs.get("model")
    if not isinstance(model, str) or not model:
        model = "unknown"
    provider, name = split_model(model, kwargs.get("custom_llm_provider") or None)
    api_base = kwargs.get("api_base") or kwargs.get("base_url")
    return Call(
        provider=_deployment(provider, api_base),
        model=name or "unknown",
        input_tokens=estimate_tokens(kwargs.get("messages"), kwargs.get("tools")),
        max_output_tokens=as_int(kwargs.get("max_tokens"))
        or as_int(kwargs.get("max_completion_tokens")),
        features=LITELLM.features(kwargs),
    )


class ResilienceCallback(CustomLogger):  # type: ignore[misc]
    """Rate limiting, circuit breaking and failure telemetry for every
    LiteLLM attempt. Register with ``litellm.callbacks = [ResilienceCallback()]``.

    With no arguments: an adaptive ``RateLimiter`` and a default
    ``CircuitBreaker``. Pass your own ``limiter``/``breaker`` (or a whole
    ``pipeline`` without Retry/Fallback), ``hooks=[Telemetry()]`` for spans,
    and ``clock`` for tests. ``max_hold``: seconds after which an attempt no
    hook ever closed (an abandoned stream) gives back what it holds.
    """

    def __init__(
        self,
        *,
        limiter: Any = None,
        breaker: Any = None,
        pipeline: Pipeline | None = None,
        hooks: Sequence[Any] = (),
        clock: Clock | None = None,
        max_hold: float = 900.0,
    ) -> None:
        super().__init__()
        if pipeline is not None and (limiter is not None or breaker is not None or hooks):
            raise ConfigError(
                "pipeline", pipeline, "either pipeline= or limiter=/breaker=/hooks=, not both"
            )
        if pipeline is None:
            if breaker is None:
                from resilience import CircuitBreaker

                breaker = CircuitBreaker()
            if limiter is None:
                from resilience import RateLimiter

                limiter = RateLimiter()
            pipeline = Pipeline(breaker, limiter, hooks=list(hooks), clock=clock)
        self.guard = Guard(pipeline, max_hold=max_hold)
        self._open: dict[str, list[tuple[Ticket, str]]] = {}

    # -- registration ----------------------------------------------------------

    def register(self) -> ResilienceCallback:
        """Append to ``litellm.callbacks`` (the registration that reaches the
        deployment hooks). LiteLLM keeps one instance per logger class in its
        success and failure lists: ``unregister()`` an old one first."""
        if not any(cb is self for cb in litellm.callbacks):
            litellm.callbacks.append(self)
        return self

    def unregister(self) -> None:
        """Remove this callback from every LiteLLM callback list."""
        litellm.logging_callback_manager.remove_callback_from_all_lists(self)
        litellm.input_callback[:] = [cb for cb in litellm.input_callback if cb is not self]

    # -- bookkeeping -----------------------------------------------------------

    def _take(self, call_id: Any) -> tuple[Ticket, str] | None:
        if not isinstance(call_id, str):
            return None
        held = self._open.get(call_id)
        if not held:
            return None
        entry = held.pop()
        if not held:
            del self._open[call_id]
        return entry

    @property
    def open_attempts(self) -> int:
        return sum(len(v) for v in self._open.values())

    # -- before each attempt ---------------------------------------------------

    async def async_pre_call_deployment_hook(
        self, kwargs: dict[str, Any], call_type: Any
    ) -> dict[str, Any] | None:
        call = call_for(kwargs)
        ticket = await self.guard.enter(call)  # may raise CircuitOpenError
        call_id = kwargs.get("litellm_call_id")
        if isinstance(call_id, str):
            self._open.setdefault(call_id, []).append((ticket, call.provider))
        else:  # nothing to match the outcome with: count it as sent
            ticket.succeed()
        return None

    # -- after each attempt ----------------------------------------------------

    async def async_post_call_success_deployment_hook(
        self, request_data: dict[str, Any], response: Any, call_type: Any
    ) -> Any:
        entry = self._take(request_data.get("litellm_call_id"))
        if entry is not None:
            entry[0].succeed(
                usage=_usage(response),
                headers=_headers(response),
                response_model=getattr(response, "model", None),
            )
        return None

    async def async_post_call_failure_deployment_hook(
        self,
        request_data: Mapping[str, Any],
        exception: Exception,
        call_type: Any,
        fallback_depth: int | None = None,
    ) -> None:
        self._failed(request_data.get("litellm_call_id"), exception)

    async def async_log_success_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        # Streams end here (after the last chunk); a non-streamed attempt was
        # already settled by the deployment hook and finds nothing.
        entry = self._take(kwargs.get("litellm_call_id"))
        if entry is not None:
            entry[0].succeed(
                usage=_usage(response_obj),
                headers=_headers(response_obj),
                response_model=getattr(response_obj, "model", None),
            )

    async def async_log_failure_event(
        self, kwargs: dict[str, Any], response_obj: Any, start_time: Any, end_time: Any
    ) -> None:
        self._failed(kwargs.get("litellm_call_id"), kwargs.get("exception"))

    def _failed(self, call_id: Any, exception: Any) -> None:
        entry = self._take(call_id)
        if entry is None:
            return  # our own rejection, or already settled
        ticket, provider = entry
        if isinstance(exception, ResilienceError) or not isinstance(exception, BaseException):
            ticket.cancel()
            return
        headers = _headers(exception)
        failure = classify(exception, headers=headers, provider=provider)
        ticket.fail(failure, headers=headers)

    async def aclose(self) -> None:
        """Give back everything still held (at shutdown, or between tests)."""
        for held in self._open.values():
            for ticket, _ in held:
                ticket.cancel()
        self._open.clear()
        await self.guard.aclose()


# -- the full-pipeline wrapper ---------------------------------------------------


def _on_chunk(chunk: Any, state: AttemptState | None) -> None:
    set_usage(state, _usage(chunk))


class ResilientLiteLLM:
    """``litellm.acompletion`` through a Pipeline.

    >>> llm = ResilientLiteLLM(fallbacks=["anthropic/claude-haiku-4-5"])
    >>> await llm.acompletion(model="openai/gpt-4o-mini", messages=[...])

    Targets are LiteLLM model strings (``"provider/model"``), so a Fallback
    target is exactly what LiteLLM would take. ``params`` gives per-target
    keyword arguments (``api_base``, ``api_key``, ...), keyed by
    ``"provider/model"`` or by ``"provider"``; the ``api_base``/``api_key``
    passed to :meth:`acompletion` apply to the requested target only. Inside,
    ``num_retries=0`` and ``max_retries=0``: the pipeline owns retrying.
    """

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        *,
        fallbacks: Sequence[str] = (),
        params: Mapping[str, Mapping[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> None:
        if pipeline is not None and fallbacks:
            raise ConfigError("fallbacks", fallbacks, "either pipeline= or fallbacks=, not both")
        self.pipeline = pipeline if pipeline is not None else default_pipeline(fallbacks)
        self.params = {k: dict(v) for k, v in (params or {}).items()}
        self.timeout = timeout

    def _target_params(self, call: Call) -> dict[str, Any]:
        return {**self.params.get(call.provider, {}), **self.params.get(call.target, {})}

    async def acompletion(self, model: str, messages: Any, **kwargs: Any) -> Any:
        """Same arguments as ``litellm.acompletion``; returns its
        ``ModelResponse``, or for ``stream=True`` a stream of its chunks."""
        if not isinstance(model, str) or not model:
            raise ConfigError("model", model, "a LiteLLM model string")
        provider, name = split_model(model, kwargs.pop("custom_llm_provider", None))
        request = {**kwargs, "messages": messages}
        # A stream cannot be turned off here (LiteLLM has no public way to
        # replay a response as chunks): a model that cannot stream is moved
        # away from instead.
        features = LITELLM.features(request) - {"stream"}
        call = Call(
            provider=provider,
            model=name,
            input_tokens=estimate_tokens(messages, kwargs.get("tools")),
            max_output_tokens=as_int(kwargs.get("max_tokens"))
            or as_int(kwargs.get("max_completion_tokens")),
            features=features,
            timeout=self.timeout,
        )
        first = call.target

        async def handler(c: Call) -> Any:
            req = dict(request)
            if c.target != first:
                for key in ("api_base", "base_url", "api_key", "api_version"):
                    req.pop(key, None)
            req.update(self._target_params(c))
            req = LITELLM.without(req, features - c.features)
            req["num_retries"] = 0
            req["max_retries"] = 0
            continuation = current_continuation()
            if continuation is not None:
                req = continue_chat(req, continuation)
            try:
                result = await litellm.acompletion(model=f"{c.provider}/{c.model}", **req)
            except Exception as exc:
                with contextlib.suppress(Exception):
                    report(headers=_headers(exc))
                raise
            report(headers=_headers(result))
            if req.get("stream"):
                return WatchedStream(HonestLiteLLMStream(result, c), _on_chunk, _CHUNKS)
            report(usage=_usage(result), response_model=getattr(result, "model", None))
            return result

        result = await self.pipeline.run(handler, call)
        if request.get("stream") and hasattr(result, "__anext__"):
            return ResilientStream(result, call)
        return result

    def __repr__(self) -> str:
        return f"ResilientLiteLLM({self.pipeline!r})"
