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

A streamed result is handed over after its first chunk (the commit point,
see :mod:`resilience._stream`), as a :class:`PeekedStream` that may resume
it after a break (see :mod:`resilience._stream.resume`).
"""

from __future__ import annotations

import asyncio
import contextlib
import random as _random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from functools import partial
from typing import Any, NamedTuple, Protocol

from resilience._classify.classify import classify
from resilience._core.call import Call, Handler
from resilience._core.clock import Clock, SystemClock
from resilience._core.context import _ATTEMPT, _RUN, AttemptState, RunContext, emit
from resilience._core.deadline import DeadlineScope, Timeout
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
from resilience._core.failure import Failure, Kind
from resilience._core.validate import number
from resilience._stream.attempt import (
    EMPTY,
    AttemptStream,
    first_chunk,
    is_stream,
    stream_failure,
)
from resilience._stream.continuations import Continuations
from resilience._stream.resume import PeekedStream, Resumer
from resilience._stream.watched import close_stream

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


RESUME_POLICIES = ("continue",)


class _Streams(NamedTuple):
    clock: Clock
    first_chunk_timeout: float | None
    chunk_timeout: float | None


def _no_first_chunk(call: Call, limit: float) -> ProviderError:
    return stream_failure("first_chunk_timeout", f"no first chunk within {limit}s", call)


class _Classifying:
    """Innermost step: turn provider exceptions into ``ProviderError``, and
    hand a stream over only once its first chunk arrived."""

    __slots__ = ("_classifier", "_handler", "_streams")

    def __init__(self, handler: Handler, classifier: Classifier, streams: _Streams) -> None:
        self._handler = handler
        self._classifier = classifier
        self._streams = streams

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
        limit = self._streams.first_chunk_timeout
        try:
            if limit is None:
                # The common path, without a coroutine more than it needs.
                result = await self._handler(call)
                return await self._first(result, call, None) if is_stream(result) else result
            if "stream" in call.features:
                # Time to first chunk counts from the request: a provider silent
                # before its headers is as stuck as one silent after them.
                async with Timeout(
                    self._streams.clock, limit, partial(_no_first_chunk, call, limit)
                ):
                    return await self._open(call, None)
            return await self._open(call, limit)
        except (ResilienceError, asyncio.CancelledError):
            raise
        except StopAsyncIteration:
            raise
        except Exception as exc:
            error = self._wrap(exc, call)
            if error is None:
                raise
            raise error from exc

    async def _open(self, call: Call, limit: float | None) -> Any:
        result = await self._handler(call)
        return await self._first(result, call, limit) if is_stream(result) else result

    async def _first(self, result: Any, call: Call, limit: float | None) -> Any:
        """The stream handed over after its first chunk (``limit``: seconds to wait)."""
        try:
            if limit is None:
                first = await first_chunk(result, call)
            else:
                async with Timeout(
                    self._streams.clock, limit, partial(_no_first_chunk, call, limit)
                ):
                    first = await first_chunk(result, call)
        except BaseException:
            await _close(result)
            raise
        if first is EMPTY:
            return result
        return AttemptStream(
            first,
            result,
            call,
            self._wrap,
            clock=self._streams.clock,
            chunk_timeout=self._streams.chunk_timeout,
        )


async def _close(stream: Any) -> None:
    """Release a stream given up before its first chunk (its connection)."""
    with contextlib.suppress(Exception):  # closing what already failed must not hide why
        await close_stream(stream)


class _Chains(NamedTuple):
    whole: Handler  # every middleware
    attempt: Handler  # one attempt: what a stream's continuation goes through


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

    Streams: ``first_chunk_timeout`` (seconds from the request to the first
    chunk) fails a silent attempt as a retryable ``timeout`` while Retry and
    Fallback can still act; ``chunk_timeout`` (seconds between two chunks)
    breaks a stalled stream after its first chunk. ``resume="continue"``
    continues a stream that breaks after its first chunk on the next target
    able to (``continuations`` says which; see :class:`Continuations`),
    through the attempt chain and under the call's deadline; streams whose
    handler marks their wire format (the adapters do) can be resumed.
    """

    def __init__(
        self,
        *middlewares: Middleware,
        hooks: tuple[Subscriber, ...] | list[Subscriber] = (),
        clock: Clock | None = None,
        random: _random.Random | None = None,
        classifier: Classifier = classify,
        telemetry: bool | Subscriber = True,
        first_chunk_timeout: float | None = None,
        chunk_timeout: float | None = None,
        resume: str | None = None,
        continuations: Continuations | Mapping[str, str | None] | None = None,
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
        self._streams = _Streams(
            self.clock,
            None
            if first_chunk_timeout is None
            else number("first_chunk_timeout", first_chunk_timeout),
            None if chunk_timeout is None else number("chunk_timeout", chunk_timeout),
        )
        if resume is not None and resume not in RESUME_POLICIES:
            raise ConfigError("resume", resume, f"None or one of {', '.join(RESUME_POLICIES)}")
        self.resume = resume
        if continuations is None or isinstance(continuations, Continuations):
            self.continuations = continuations if continuations is not None else Continuations()
        else:
            self.continuations = Continuations(continuations)
        self._last: tuple[Handler, _Chains] | None = None
        # The attempt boundary sits just inside the innermost repeating middleware.
        self._boundary = 0
        for i, mw in enumerate(middlewares):
            if getattr(mw, "repeats_calls", False):
                self._boundary = i + 1

    @property
    def first_chunk_timeout(self) -> float | None:
        return self._streams.first_chunk_timeout

    @property
    def chunk_timeout(self) -> float | None:
        return self._streams.chunk_timeout

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
        subs = self._subs
        if len(subs) == 1:  # the default Telemetry alone: asked on every call
            return self._hooks if subs[0][1].active else ()
        live = [cb for cb, gate in subs if gate is None or gate.active]
        if not live:
            return ()
        return self._hooks if len(live) == len(self._hooks) else tuple(live)

    def _chain(self, handler: Handler) -> _Chains:
        h: Handler = _Classifying(handler, self._classifier, self._streams)
        mws = self.middlewares
        for mw in reversed(mws[self._boundary :]):
            h = _bind(mw, h)
        attempt = h = _AttemptScope(h)
        for mw in reversed(mws[: self._boundary]):
            h = _bind(mw, h)
        return _Chains(h, attempt)

    def _chains(self, handler: Handler) -> _Chains:
        # Most callers pass the same handler every time: reuse its chain.
        cached = self._last
        if cached is not None and cached[0] is handler:
            return cached[1]
        chains = self._chain(handler)
        self._last = (handler, chains)
        return chains

    async def run(self, handler: Handler, call: Call) -> Any:
        """Run one logical call; return its result or raise ``ResilienceError``."""
        # Most callers pass the same handler every time: reuse its chain.
        cached = self._last
        chains = cached[1] if cached is not None and cached[0] is handler else self._chains(handler)
        hooks = self._live_hooks()
        if type(call) is not Call or hooks or call.timeout is not None:
            return await self._run(chains, call, hooks)
        # The common case, inline: no subscriber, no deadline.
        token = _RUN.set(RunContext(call, self.clock, hooks, None, self.random))
        try:
            result = await chains.whole(call)
        finally:
            _RUN.reset(token)
        if isinstance(result, AttemptStream):
            return self._handed_over(result, call, chains)
        return result

    def wrap(self, handler: Handler) -> Handler:
        """``handler`` with this pipeline around it (the chain is built once)."""
        chains = self._chain(handler)

        async def wrapped(call: Call) -> Any:
            return await self._run(chains, call, self._live_hooks())

        wrapped.__wrapped__ = handler  # type: ignore[attr-defined]
        return wrapped

    async def stream(self, handler: Handler, call: Call) -> AsyncIterator[Any]:
        """Run a streaming call and yield its chunks.

        Retries and fallbacks happen only until the first chunk arrives; a
        break after that is resumed (``resume="continue"``) or reaches the
        caller as ``StreamInterrupted``.
        """
        result = await self.run(handler, call)
        if not is_stream(result):
            raise TypeError(f"handler for {call.target} did not return an async iterator")
        try:
            async for chunk in result:
                yield chunk
        finally:
            closer = getattr(result, "aclose", None)
            if closer is not None:
                await closer()

    def _handed_over(self, stream: AttemptStream, call: Call, chains: _Chains) -> PeekedStream:
        resumer = None
        if self.resume is not None:
            # Fallback (or any middleware like it) says where a call may go next.
            routers = [m for m in self.middlewares if hasattr(m, "alternatives_to")]
            resumer = Resumer(
                chains.attempt,
                self.continuations,
                partial(_alternatives, routers),
                partial(_unsupported, routers),
            )
        return PeekedStream(stream, call, resumer)

    async def _run(
        self, chains: _Chains, call: Call, hooks: tuple[Callable[[Event], Any], ...]
    ) -> Any:
        if not isinstance(call, Call):
            raise ConfigError("call", type(call).__name__, "a resilience.Call")
        chain = chains.whole
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
            if isinstance(result, AttemptStream):
                return self._handed_over(result, call, chains)
            return result
        finally:
            _RUN.reset(token)

    def __repr__(self) -> str:
        inner = ", ".join(type(m).__name__ for m in self.middlewares)
        return f"Pipeline({inner})"


def _alternatives(routers: list[Any], call: Call) -> Iterator[Call | None]:
    """The targets the pipeline's routers would try after ``call``'s own."""
    for router in routers:
        yield from router.alternatives_to(call)


def _unsupported(routers: list[Any], target: str) -> frozenset[str]:
    """Features a router learned ``target`` cannot take."""
    out: frozenset[str] = frozenset()
    for router in routers:
        found = getattr(router, "unsupported", None)
        if found is not None:
            out |= found(target)
    return out
