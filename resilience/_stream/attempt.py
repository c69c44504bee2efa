"""Streamed results: the commit point, and one attempt's stream after it.

The pipeline awaits a stream's first chunk inside the attempt, so an error
before any output (including an error event at the head of a 200 stream, or
no first chunk within ``first_chunk_timeout``) is retried or failed over like
any other. After that the stream belongs to the caller: an :class:`AttemptStream`
carries it, turns what breaks it (a provider error, a silence longer than
``chunk_timeout``, an event that is not valid JSON, an end before the wire
format's final event) into a classified ``ProviderError``, and tells the
middlewares that admitted the attempt how it ended (``on_stream_end``), so a
stream that dies mid-way counts against the breaker.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from resilience._core.call import Call
from resilience._core.clock import Clock
from resilience._core.context import _ATTEMPT, _RUN, AttemptState, RunContext, emit
from resilience._core.deadline import Timeout
from resilience._core.errors import ProviderError, ResilienceError
from resilience._core.events import StreamMalformed, StreamStarted
from resilience._core.failure import Failure, Kind
from resilience._core.settle import EndsLater
from resilience._stream.watched import close_stream
from resilience._stream.wire import wire_of

__all__ = [
    "EMPTY",
    "AttemptStream",
    "first_chunk",
    "is_malformed",
    "is_stream",
    "scoped",
    "stream_failure",
]


def is_stream(result: object) -> bool:
    return hasattr(result, "__anext__") and hasattr(result, "__aiter__")


def stream_failure(code: str, message: str, call: Call) -> ProviderError:
    """A break the library itself detects: a silence or a stream that ended
    too early (outages: retryable, worth another target, counted by the
    breaker), or an undecodable event (the provider's fault)."""
    kind = {"malformed_event": Kind.SERVER, "stream_truncated": Kind.CONNECTION}.get(
        code, Kind.TIMEOUT
    )
    return ProviderError(
        Failure.of(kind, code=code, message=message, provider=call.provider), call=call
    )


def is_malformed(exc: BaseException) -> bool:
    """Whether ``exc`` is, or wraps, a JSON decoding error (an SDK decodes each
    event inside its iterator; LiteLLM wraps what it raises there)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, json.JSONDecodeError):
            return True
        original = getattr(item, "original_exception", None)
        todo += [item.__cause__, item.__context__]
        if isinstance(original, BaseException):
            todo.append(original)
    return False


EMPTY: Any = object()
"""What :func:`first_chunk` returns for an empty stream of unknown format."""


async def first_chunk(stream: Any, call: Call) -> Any:
    """The first chunk of ``stream``, read before the commit point. A stream
    of a known wire format that ends before any chunk is truncated, and an
    undecodable first event is malformed: both are classified failures, so
    Retry and Fallback act on them as on any other. An empty stream of
    unknown format is an empty answer (:data:`EMPTY`)."""
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        if wire_of(stream) is None:
            return EMPTY
        raise stream_failure(
            "stream_truncated", "the stream ended before its first chunk", call
        ) from None
    except Exception as exc:
        if not is_malformed(exc):
            raise
        emit(StreamMalformed, call)
        raise stream_failure(
            "malformed_event", "the first stream event was not valid JSON", call
        ) from exc


@contextmanager
def scoped(run: RunContext | None, attempt: AttemptState | None) -> Iterator[None]:
    """Run code that belongs to a call's attempt (its stream's end, a resume)
    from the caller's task, where the pipeline's context is long gone."""
    run_token = _RUN.set(run)
    attempt_token = _ATTEMPT.set(attempt)
    try:
        yield
    finally:
        _ATTEMPT.reset(attempt_token)
        _RUN.reset(run_token)


class AttemptStream(EndsLater):
    """One attempt's stream once its first chunk arrived.

    Yields the first chunk, then the rest of the provider's stream; counts
    the chunks; cuts a silence longer than ``chunk_timeout``; classifies what
    breaks it. ``when_ended`` (``on_stream_end``) tells the breaker and
    limiter how it ended, in the context of the attempt it belongs to.
    Attribute access goes to the provider's stream (``response``,
    ``close()``), so SDK stream objects keep their API.
    """

    def __init__(
        self,
        first: Any,
        rest: Any,
        call: Call,
        wrap_error: Callable[[Exception, Call], ProviderError | None],
        *,
        clock: Clock,
        chunk_timeout: float | None = None,
    ) -> None:
        self.call = call
        self.run = _RUN.get()
        self.attempt = _ATTEMPT.get()
        self.wire = wire_of(rest)
        self.chunks = 0
        self.finished = False  # the wire format's final event was seen
        self.error: BaseException | None = None
        self._first: Any = first
        self._has_first = True
        self._rest = rest
        self._wrap_error = wrap_error
        self._clock = clock
        self._chunk_timeout = chunk_timeout
        self._closers: list[Callable[[BaseException | None], None]] = []
        self._ended = False
        emit(StreamStarted, call)

    @property
    def ended(self) -> bool:
        return self._ended

    def __aiter__(self) -> AttemptStream:
        return self

    def _seen(self, chunk: Any) -> Any:
        self.chunks += 1
        if self.wire is not None and not self.finished and self.wire.finished(chunk):
            self.finished = True
        return chunk

    async def __anext__(self) -> Any:
        if self._has_first:
            self._has_first = False
            first, self._first = self._first, None
            return self._seen(first)
        if self._ended:
            raise StopAsyncIteration
        try:
            if self._chunk_timeout is None:
                chunk = await self._rest.__anext__()
            else:
                async with Timeout(self._clock, self._chunk_timeout, self._stalled):
                    chunk = await self._rest.__anext__()
        except StopAsyncIteration:
            if self.wire is not None and not self.finished:
                truncated = stream_failure(
                    "stream_truncated", "the stream ended before its final event", self.call
                )
                self._end(truncated)
                raise truncated from None
            self._end(None)
            raise
        except (ResilienceError, asyncio.CancelledError) as exc:
            self._end_with(exc)
            raise
        except Exception as exc:
            classified = self._classified(exc)
            if classified is None:
                self._end(exc)
                raise
            self._end_with(classified)
            raise classified from exc
        return self._seen(chunk)

    def _end_with(self, error: BaseException) -> None:
        if self.finished and isinstance(error, ProviderError):
            # The answer was complete: a transport error after its final event
            # (before [DONE], say) takes nothing from the caller.
            self._end(None)
            raise StopAsyncIteration from error
        self._end(error)

    def _stalled(self) -> ProviderError:
        return stream_failure(
            "chunk_timeout", f"no chunk for chunk_timeout={self._chunk_timeout}s", self.call
        )

    def _classified(self, exc: Exception) -> ProviderError | None:
        if is_malformed(exc):
            with scoped(self.run, self.attempt):
                emit(StreamMalformed, self.call)
            return stream_failure("malformed_event", "a stream event was not valid JSON", self.call)
        return self._wrap_error(exc, self.call)

    def when_ended(self, fn: Callable[[BaseException | None], None]) -> None:
        """Call ``fn(error_or_None)`` once when the stream ends or is closed
        (see :mod:`resilience._core.settle`)."""
        if self._ended:
            fn(self.error)
        else:
            self._closers.append(fn)

    def _end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        self.error = error
        closers, self._closers = self._closers, []
        if not closers:
            return
        with scoped(self.run, self.attempt):
            for fn in closers:
                fn(error)

    async def aclose(self) -> None:
        self._end(None)
        await close_stream(self._rest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest, name)

    def __del__(self) -> None:
        if not self._ended:
            self._end(None)
