"""What the stream machinery needs to know about a wire format, and what a
handler is told when it is asked to continue an answer.

The pipeline knows no wire format. A handler that wants its streams checked
for truncation and resumed after a break returns a stream carrying a
``resilience_wire`` attribute (a :class:`StreamWire`; the adapters do this),
and when asked for a continuation (:func:`current_continuation` is not None)
it sends a request that continues the text instead of starting anew.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

from resilience._core.call import Call

__all__ = [
    "RESTART",
    "Continuation",
    "StreamTracker",
    "StreamWire",
    "continuing",
    "current_continuation",
    "wire_of",
]

RESTART = "restart"
"""The mechanism when no text had reached the caller yet: the plain request
again (every target can do that; only the chunks already seen are skipped)."""


class Continuation:
    """A request to continue ``text``, the answer so far, by ``mechanism``
    (``"prefill"``, ``"continue_final_message"`` or ``"restart"``).

    The handler calls :meth:`prefill` for the text to put in the final
    assistant message; what it did not send (trailing whitespace Anthropic
    refuses) is matched against the start of the continuation and skipped.
    """

    __slots__ = ("mechanism", "sent", "text")

    def __init__(self, text: str, mechanism: str) -> None:
        self.text = text
        self.mechanism = mechanism
        self.sent = text

    def prefill(self, *, rstrip: bool = False) -> str:
        """The text to send as the final assistant message."""
        self.sent = self.text.rstrip() if rstrip else self.text
        return self.sent

    @property
    def unsent(self) -> str:
        """The end of ``text`` the request left out (the continuation repeats it)."""
        return self.text[len(self.sent) :]

    def __repr__(self) -> str:  # never the text: it is a completion
        return f"Continuation({self.mechanism!r}, {len(self.text)} chars)"


_CONTINUATION: ContextVar[Continuation | None] = ContextVar("resilience_continuation", default=None)


def current_continuation() -> Continuation | None:
    """Inside a handler: the continuation this attempt must send, or None
    for a fresh request."""
    return _CONTINUATION.get()


@contextmanager
def continuing(continuation: Continuation | None) -> Iterator[None]:
    token = _CONTINUATION.set(continuation)
    try:
        yield
    finally:
        _CONTINUATION.reset(token)


@runtime_checkable
class StreamTracker(Protocol):
    """Follows one caller-facing stream in a wire format, across continuations."""

    @property
    def continuable(self) -> bool:
        """False once the stream carried what a text prefill cannot continue
        (tool calls, thinking, several choices)."""
        ...

    def text(self, chunk: Any) -> str:
        """The answer text ``chunk`` carries ("" if none)."""
        ...

    def observe(self, chunk: Any) -> None:
        """``chunk`` goes to the caller."""
        ...

    def begin_continuation(self) -> None:
        """The chunks that follow come from a continuation."""
        ...

    def splice(self, chunk: Any) -> Any | None:
        """A continuation's ``chunk`` as the caller's stream goes on (ids,
        indexes, usage), or None to drop it (a second message start)."""
        ...

    def without_text(self, chunk: Any, n: int) -> Any | None:
        """``chunk`` without the first ``n`` characters of its text, or None
        when nothing else is left in it."""
        ...


@runtime_checkable
class StreamWire(Protocol):
    """One wire format's chunks, as an adapter speaks them."""

    def finished(self, chunk: Any) -> bool:
        """Whether ``chunk`` marks a complete answer (a finish reason, a
        message stop): a stream that ends before one was truncated."""
        ...

    def tracker(self) -> StreamTracker: ...

    def can_send(self, call: Call, mechanism: str) -> bool:
        """Whether the handler can send a ``mechanism`` continuation to
        ``call``'s target."""
        ...


def wire_of(stream: Any) -> StreamWire | None:
    wire = getattr(stream, "resilience_wire", None)
    return wire if isinstance(wire, StreamWire) else None
