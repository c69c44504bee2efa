"""The pipeline: middlewares around the application's own call.

A middleware is ``async (call, handler) -> result``, the shape of aiohttp's
client middlewares; the first one given is the outermost. Innermost, the
pipeline classifies whatever the handler raises: a provider or transport
failure becomes :class:`ProviderError`, anything else (a bug in the handler)
propagates untouched, and cancellation always propagates.

Between the middlewares that repeat calls (``Retry``, ``Fallback``: they set
``repeats_calls = True``) and the ones that guard a single target, the
pipeline opens one *attempt* per try, which subscribers see as
``AttemptStarted``/``AttemptEnded``.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

from resilience._classify.classify import classify
from resilience._classify.failure import Failure, Kind
from resilience._core.call import Call, Handler
from resilience._core.clock import Clock, SystemClock
from resilience._core.context import _ATTEMPT, _RUN, AttemptState, RunContext, emit
from resilience._core.deadline import DeadlineScope
from resilience._core.errors import ConfigError, ProviderError, ResilienceError
from resilience._core.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    CallStarted,
    Event,
    Subscriber,
    as_callback,
)
from resilience._core.stream import PeekedStream, is_stream

__all__ = ["Middleware", "Pipeline"]


class Middleware(Protocol):
    """``async (call, handler) -> result``: do something around ``handler``."""

    async def __call__(self, call: Call, handler: Handler) -> Any: ...


Classifier = Callable[..., Failure]


def _recognised(failure: Failure) -> bool:
    return failure.kind is not Kind.UNKNOWN or failure.status is not None


def _headers_of(exc: BaseException) -> Any:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        headers = getattr(exc, "headers", None)
    return headers


class _Classifying:
    """Innermost step: turn provider exceptions into ``ProviderError``."""

    __slots__ = ("_classifier", "_handler")

    def __init__(self, handler: Handler, classifier: Classifier) -> None:
        self._handler = handler
        self._classifier = classifier

    def _wrap(self, exc: Exception, call: Call) -> ProviderError | None:
        failure = self._classifier(exc, provider=call.provider)
        if not _recognised(failure):
            return None
        attempt = _ATTEMPT.get()
        if attempt is not None and attempt.headers is None:
            headers = _headers_of(exc)
            if headers is not None:
                attempt.headers = headers
        return ProviderError(failure, call=call)

    async def __call__(self, call: Call) -> Any:
        try:
            result = await self._handler(call)
            if is_stream(result):
                first = await result.__anext__()
                return PeekedStream(first, result, call, self._wrap)
            return result
        except (ResilienceError, asyncio.CancelledError):
            raise
        except StopAsyncIteration:
            raise
        except Exception as exc:
            error = self._wrap(exc, call)
            if error is None:
                raise
            raise error from exc


class _AttemptScope:
    """One try against one target: numbered, timed and announced."""

    __slots__ = ("_handler",)

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def __call__(self, call: Call) -> Any:
        run = _RUN.get()
        if run is None:
            return await self._handler(call)
        state = AttemptState(run.attempts)
        run.attempts += 1
        run.last = state
        token = _ATTEMPT.set(state)
        if not run.hooks:  # nobody listens: no events, no timing
            try:
                return await self._handler(call)
            finally:
                _ATTEMPT.reset(token)
        started = run.clock.monotonic()
        try:
            emit(AttemptStarted, call)
            result = await self._handler(call)
        except BaseException as exc:
            # A hung attempt that Retry's time limit cancelled ends as that timeout.
            failure = getattr(exc, "failure", None) or state.timed_out
            emit(
                AttemptEnded,
                call,
                duration=run.clock.monotonic() - started,
                error=exc,
                failure=failure,
            )
            raise
        else:
            emit(AttemptEnded, call, duration=run.clock.monotonic() - started)
            return result
        finally:
            _ATTEMPT.reset(token)


def _bind(middleware: Middleware, inner: Handler) -> Handler:
    # A plain function handing back the middleware's coroutine: one coroutine
    # frame per layer instead of two.
    def step(call: Call) -> Awaitable[Any]:
        return middleware(call, inner)

    return step


def _is_telemetry(subscriber: object) -> bool:
    if subscriber is None:
        return False
    from resilience.telemetry import Telemetry

    return isinstance(subscriber, Telemetry)


class Pipeline:
    """Run calls through middlewares, outermost first.

    ``clock`` and ``random`` are handed to every middleware that does not
    have its own, through the run context. ``hooks`` receive every event of
    every call (see :mod:`resilience._core.events`).

    ``telemetry``: OpenTelemetry spans and metrics through the API, as
    native instrumentation does: on by default, costing nothing until the
    application sets an SDK up (no event is even built), recording from then
    on. ``False`` turns it off; a :class:`~resilience.telemetry.Telemetry`
    uses that one (its providers, ``capture_content``). A ``Telemetry``
    among ``hooks`` or subscribed later replaces the default one.
    """

    def __init__(
        self,
        *middlewares: Middleware,
        hooks: tuple[Subscriber, ...] | list[Subscriber] = (),
        clock: Clock | None = None,
        random: _random.Random | None = None,
        classifier: Classifier = classify,
        telemetry: bool | Subscriber = True,
    ) -> None:
        for i, mw in enumerate(middlewares):
            if not callable(mw):
                raise ConfigError(f"middlewares[{i}]", mw, "an async (call, handler) callable")
        self.middlewares: tuple[Middleware, ...] = middlewares
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.random = random if random is not None else _random.Random()
        self._subs: tuple[tuple[Callable[[Event], Any], Any], ...] = ()
        self._hooks: tuple[Callable[[Event], Any], ...] = ()
        self._gated = False
        self._default_telemetry: Any = None
        for h in hooks:
            self.subscribe(h)
        if telemetry is True:
            if not any(_is_telemetry(h) for h in hooks):
                from resilience.telemetry import Telemetry

                default = Telemetry()
                self.subscribe(default)
                self._default_telemetry = default
        elif telemetry is not False:
            if not _is_telemetry(telemetry):
                raise ConfigError(
                    "telemetry", telemetry, "True, False or a resilience.telemetry.Telemetry"
                )
            self.subscribe(telemetry)
        self._classifier = classifier
        self._last: tuple[Handler, Handler] | None = None
        # The attempt boundary sits just inside the innermost repeating middleware.
        self._boundary = 0
        for i, mw in enumerate(middlewares):
            if getattr(mw, "repeats_calls", False):
                self._boundary = i + 1

    @property
    def hooks(self) -> tuple[Callable[[Event], Any], ...]:
        return self._hooks

    @property
    def telemetry(self) -> Any:
        """The :class:`~resilience.telemetry.Telemetry` recording this
        pipeline's calls (None when turned off)."""
        for _, gate in self._subs:
            if _is_telemetry(gate):
                return gate
        return None

    def subscribe(self, subscriber: Subscriber) -> None:
        """Add a subscriber for every later call. A ``Telemetry`` replaces
        the default one (so spans are not recorded twice)."""
        default = self._default_telemetry
        if default is not None and _is_telemetry(subscriber):
            self._subs = tuple(s for s in self._subs if s[1] is not default)
            self._default_telemetry = None
        gate = subscriber if hasattr(type(subscriber), "active") else None
        self._subs = (*self._subs, (as_callback(subscriber), gate))
        self._hooks = tuple(cb for cb, _ in self._subs)
        self._gated = any(g is not None for _, g in self._subs)

    def _live_hooks(self) -> tuple[Callable[[Event], Any], ...]:
        if not self._gated:
            return self._hooks
        live = [cb for cb, gate in self._subs if gate is None or gate.active]
        if not live:
            return ()
        return self._hooks if len(live) == len(self._hooks) else tuple(live)

    def _chain(self, handler: Handler) -> Handler:
        h: Handler = _Classifying(handler, self._classifier)
        mws = self.middlewares
        for mw in reversed(mws[self._boundary :]):
            h = _bind(mw, h)
        h = _AttemptScope(h)
        for mw in reversed(mws[: self._boundary]):
            h = _bind(mw, h)
        return h

    async def run(self, handler: Handler, call: Call) -> Any:
        """Run one logical call; return its result or raise ``ResilienceError``."""
        # Most callers pass the same handler every time: reuse its chain.
        cached = self._last
        if cached is not None and cached[0] is handler:
            chain = cached[1]
        else:
            chain = self._chain(handler)
            self._last = (handler, chain)
        hooks = self._live_hooks()
        if type(call) is not Call or hooks or call.timeout is not None:
            return await self._run(chain, call, hooks)
        # The common case, inline: no subscriber, no deadline.
        token = _RUN.set(RunContext(call, self.clock, hooks, None, self.random))
        try:
            return await chain(call)
        finally:
            _RUN.reset(token)

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` with this pipeline around it (the chain is built once)."""
        chain = self._chain(handler)

        async def wrapped(call: Call) -> Any:
            return await self._run(chain, call, self._live_hooks())

        wrapped.__wrapped__ = handler  # type: ignore[attr-defined]
        return wrapped

    async def stream(self, handler: Handler, call: Call) -> AsyncIterator[Any]:
        """Run a streaming call and yield its chunks.

        Retries and fallbacks happen only until the first chunk arrives; an
        error after that reaches the caller as ``ProviderError``.
        """
        result = await self.run(handler, call)
        if not is_stream(result):
            raise TypeError(f"handler for {call.target} did not return an async iterator")
        async for chunk in result:
            yield chunk

    async def _run(
        self, chain: Handler, call: Call, hooks: tuple[Callable[[Event], Any], ...]
    ) -> Any:
        if not isinstance(call, Call):
            raise ConfigError("call", type(call).__name__, "a resilience.Call")
        clock = self.clock
        deadline = clock.monotonic() + call.timeout if call.timeout is not None else None
        run = RunContext(call, clock, hooks, deadline, self.random)
        token = _RUN.set(run)
        started = clock.monotonic() if run.hooks else 0.0
        try:
            if run.hooks:
                emit(CallStarted, call)
            if deadline is None:
                result = await chain(call)
            else:
                async with DeadlineScope(clock, deadline, call):
                    result = await chain(call)
        except BaseException as exc:
            if run.hooks:
                emit(
                    CallEnded,
                    call,
                    duration=clock.monotonic() - started,
                    error=exc,
                    failure=getattr(exc, "failure", None),
                )
            raise
        else:
            if run.hooks:
                last = run.last
                emit(
                    CallEnded,
                    call,
                    duration=clock.monotonic() - started,
                    usage=last.usage if last is not None else None,
                    response_model=last.response_model if last is not None else None,
                )
            return result
        finally:
            _RUN.reset(token)

    def __repr__(self) -> str:
        inner = ", ".join(type(m).__name__ for m in self.middlewares)
        return f"Pipeline({inner})"
