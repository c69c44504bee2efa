"""An SDK's stream as adapters hand it to the pipeline: watched chunk by
chunk for usage, and marked with its wire format."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from resilience._core.context import AttemptState, current_attempt

__all__ = ["WatchedStream", "close_stream", "set_usage"]


def set_usage(state: AttemptState | None, usage: Mapping[str, int] | None) -> None:
    """Record usage on an attempt after its handler returned (a stream's
    usage arrives with its last chunks, outside the attempt's context)."""
    if state is not None and usage:
        state.usage = dict(usage)


class WatchedStream:
    """The SDK's stream, seen chunk by chunk by ``on_chunk`` (to pick up the
    usage a stream carries near its end), marked with its wire format
    (``wire``: a :class:`~resilience._stream.wire.StreamWire`) so the
    pipeline can tell a truncated stream and resume a broken one. Attribute
    access goes to the SDK stream, so ``response`` and friends keep working."""

    def __init__(
        self,
        stream: Any,
        on_chunk: Callable[[Any, AttemptState | None], None] | None = None,
        wire: Any = None,
    ) -> None:
        self.resilience_wire = wire
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
    """Close a stream, whichever of ``aclose``/``close`` it has (SDK streams
    have ``close``, async generators and LiteLLM's wrapper ``aclose``)."""
    for name in ("aclose", "close"):
        closer = getattr(stream, name, None)
        if closer is not None:
            res = closer()
            if asyncio.iscoroutine(res):
                await res
            return
