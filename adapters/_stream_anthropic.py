"""Anthropic message stream events, for checking and resuming streams.

The one place that knows this wire format's streams: which event ends an
answer (``message_stop``, or a ``message_delta`` with its stop reason), what
text an event carries, and how a continuation's events join the caller's
stream: its ``message_start`` is dropped (the caller had one), its first text
block goes on as the block the caller was reading (same index) or, if that
one was closed, as the next index; the final ``message_delta`` counts the
output tokens every request reported. A continuation is a prefill: the text
so far as a final assistant message, without the trailing whitespace the API
refuses (Claude 4.6 and later refuse prefills outright; see
:class:`resilience.Continuations`).

Works on the SDK objects by attribute; imports no host package.
"""

from __future__ import annotations

from typing import Any

from resilience import Call
from resilience.wire import PREFILL, RESTART, Continuation

from ._kit import as_int, continued_messages
from ._stream_openai import replaced

__all__ = ["MessageEvents", "continue_messages"]


def continue_messages(req: dict[str, Any], continuation: Continuation) -> dict[str, Any]:
    """``req`` (``messages.create`` keyword arguments) asking to continue."""
    if continuation.mechanism != PREFILL:
        return req
    text = continuation.prefill(rstrip=True)
    return {**req, "messages": continued_messages(req.get("messages"), text)}


def _kind(event: Any) -> str:
    return str(getattr(event, "type", ""))


class _Tracker:
    def __init__(self) -> None:
        self.continuable = True
        self._index = -1  # the caller's last block
        self._open = False
        self._shift: int | None = None  # continuation index -> caller index
        self._continuing = False
        self._earlier_output = 0  # output tokens the broken requests reported
        self._output = 0  # those of the current request

    def text(self, event: Any) -> str:
        if _kind(event) != "content_block_delta":
            return ""
        delta = getattr(event, "delta", None)
        if getattr(delta, "type", None) != "text_delta":
            return ""
        text = getattr(delta, "text", "")
        return text if isinstance(text, str) else ""

    def observe(self, event: Any) -> None:
        kind = _kind(event)
        if kind == "message_start":
            usage = getattr(getattr(event, "message", None), "usage", None)
            self._output = as_int(getattr(usage, "output_tokens", 0))
        elif kind == "content_block_start":
            self._index = as_int(getattr(event, "index", 0))
            self._open = True
            if getattr(getattr(event, "content_block", None), "type", None) != "text":
                self.continuable = False  # tool use, thinking: not a text prefill
        elif kind == "content_block_delta":
            if getattr(getattr(event, "delta", None), "type", None) != "text_delta":
                self.continuable = False
        elif kind == "content_block_stop":
            self._open = False
        elif kind == "message_delta":
            # Cumulative for its request; splice added what the broken ones reported.
            out = as_int(getattr(getattr(event, "usage", None), "output_tokens", 0))
            self._output = max(0, out - self._earlier_output)

    def begin_continuation(self) -> None:
        self._continuing = True
        self._shift = None
        self._earlier_output += self._output
        self._output = 0

    def splice(self, event: Any) -> Any | None:
        kind = _kind(event)
        if kind == "message_start":
            usage = getattr(getattr(event, "message", None), "usage", None)
            self._output = as_int(getattr(usage, "output_tokens", 0))
            return None
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            index = as_int(getattr(event, "index", 0))
            if self._shift is None:
                # The first block continues the caller's open one, else follows it.
                merge = kind != "content_block_start" or self._open
                self._shift = (self._index if merge else self._index + 1) - index
                if kind == "content_block_start" and merge:
                    return None
            target = index + self._shift
            return event if target == index else replaced(event, index=target)
        if kind == "message_delta":
            usage = getattr(event, "usage", None)
            own = as_int(getattr(usage, "output_tokens", 0))
            if usage is not None and self._earlier_output:
                total = own + self._earlier_output
                return replaced(event, usage=replaced(usage, output_tokens=total))
        return event

    def without_text(self, event: Any, n: int) -> Any | None:
        rest = self.text(event)[n:]
        if not rest:
            return None
        delta = event.delta
        return replaced(event, delta=replaced(delta, text=rest))


class MessageEvents:
    """The Anthropic message event stream format; a continuation is a prefill."""

    def finished(self, event: Any) -> bool:
        kind = _kind(event)
        if kind == "message_stop":
            return True
        delta = getattr(event, "delta", None)
        return kind == "message_delta" and getattr(delta, "stop_reason", None) is not None

    def tracker(self) -> _Tracker:
        return _Tracker()

    def can_send(self, call: Call, mechanism: str) -> bool:
        return mechanism in (PREFILL, RESTART)

    def __repr__(self) -> str:
        return "MessageEvents()"
