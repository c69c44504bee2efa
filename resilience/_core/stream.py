"""Streamed results: retry only until the first chunk reaches the caller.

The pipeline awaits a stream's first chunk inside the attempt, so an error
before any output (including an error event at the head of a 200 stream) is
retried or failed over like any other. After that the stream belongs to the
caller: later errors are classified and raised, never retried.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from resilience._core.call import Call
from resilience._core.context import AttemptState, current_attempt
from resilience._core.errors import ProviderError, ResilienceError

__all__ = [
    "PeekedStream",
    "WatchedStream",
    "close_stream",
    "is_stream",
    "on_stream_end",
    "set_usage",
]


def is_stream(result: object) -> bool:
    return hasattr(result, "__anext__") and hasattr(result, "__aiter__")


class PeekedStream:
    """An async iterator that yields an already-received first chunk, then the
    rest of the provider's stream. Attribute access goes to the original stream
    (``response``, ``close()``, ...), so SDK stream objects keep their API."""

    def __init__(
        self,
        first: Any,
        rest: Any,
        call: Call,
        wrap_error: Callable[[Exception, Call], ProviderError | None],
    ) -> None:
        self._first: Any = first
        self._has_first = True
        self._rest = rest
        self._call = call
        self._wrap_error = wrap_error
        self._closers: list[Callable[[BaseException | None], None]] = []
        self._ended = False

    def __aiter__(self) -> PeekedStream:
        return self

    async def __anext__(self) -> Any:
        if self._has_first:
            self._has_first = False
            first, self._first = self._first, None
            return first
        try:
            return await self._rest.__anext__()
        except StopAsyncIteration:
            self._end(None)
            raise
        except (ResilienceError, asyncio.CancelledError) as exc:
            self._end(exc)
            raise
        except Exception as exc:
            error = self._wrap_error(exc, self._call)
            self._end(error or exc)
            if error is None:
                raise
            raise error from exc

    def add_done_callback(self, fn: Callable[[BaseException | None], None]) -> None:
        """Call ``fn(error_or_None)`` once when the stream ends or is closed."""
        if self._ended:
            fn(None)
        else:
            self._closers.append(fn)

    def _end(self, error: BaseException | None) -> None:
        if self._ended:
            return
        self._ended = True
        closers, self._closers = self._closers, []
        for fn in closers:
            fn(error)

    async def aclose(self) -> None:
        self._end(None)
        for name in ("aclose", "close"):
            closer = getattr(self._rest, name, None)
            if closer is not None:
                res = closer()
                if asyncio.iscoroutine(res):
                    await res
                return

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest, name)

    def __del__(self) -> None:
        if not self._ended:
            self._end(None)


def on_stream_end(result: Any, fn: Callable[[BaseException | None], None]) -> bool:
    """If ``result`` is a pipeline stream, arrange ``fn`` for its end and
    return True; otherwise return False (the caller finishes at once)."""
    if isinstance(result, PeekedStream):
        result.add_done_callback(fn)
        return True
    return False


def set_usage(state: AttemptState | None, usage: Mapping[str, int] | None) -> None:
    """Record usage on an attempt after its handler returned (a stream's
    usage arrives with its last chunks, outside the attempt's context)."""
    if state is not None and usage:
        state.usage = dict(usage)


class WatchedStream:
    """The SDK's stream, seen chunk by chunk by ``on_chunk`` (to pick up the
    usage a stream carries near its end). Attribute access goes to the SDK
    stream, so ``response`` and friends keep working."""

    def __init__(
        self,
        stream: Any,
        on_chunk: Callable[[Any, AttemptState | None], None] | None = None,
    ) -> None:
        self._stream = stream
        self._iter = stream.__aiter__() if not hasattr(stream, "__anext__") else stream
        self._on_chunk = on_chunk
        # The attempt this stream belongs to, captured while still inside it.
        self._state = current_attempt()

    def __aiter__(self) -> WatchedStream:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._iter.__anext__()
        if self._on_chunk is not None:
            # Provider garbage in a chunk never breaks the caller's stream.
            with contextlib.suppress(Exception):
                self._on_chunk(chunk, self._state)
        return chunk

    async def aclose(self) -> None:
        await close_stream(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


async def close_stream(stream: Any) -> None:
    """Close an SDK stream, whichever of ``close``/``aclose`` it has."""
    for name in ("close", "aclose"):
        closer = getattr(stream, name, None)
        if closer is not None:
            res = closer()
            if asyncio.iscoroutine(res):
                await res
            return
