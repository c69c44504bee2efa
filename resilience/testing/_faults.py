"""Streams that go wrong after they began: cut, stalled, truncated or corrupted.

A :class:`StreamFault` is a scripted outcome like ``503`` or ``"midstream"``. The
answer starts as a normal 200 event stream, and after ``after`` events (every SSE
event counts: OpenAI's role chunk, Anthropic's ``message_start``, its ping...):

- ``cut``: the connection drops, with no terminating event and no end of the
  chunked body (the client sees an incomplete read);
- ``stall``: the connection stays open and silent until the client gives up;
- ``truncate``: the body ends cleanly but without the terminating events
  (``[DONE]``, ``message_stop``): an SDK iterating it just stops;
- ``malformed``: one event whose data is not valid JSON is inserted there, and
  the rest of the stream follows complete.

Also written ``"cut:40"``, ``"stall:20"``, ``"truncate:5"``, ``"malformed:30"``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from resilience._core.errors import ConfigError

__all__ = ["FAULT_KINDS", "StreamFault"]

FaultKind = Literal["cut", "stall", "truncate", "malformed"]
FAULT_KINDS: frozenset[str] = frozenset({"cut", "stall", "truncate", "malformed"})


@dataclass(frozen=True, slots=True)
class StreamFault:
    """A 200 stream that breaks after ``after`` events; see the module docs."""

    kind: FaultKind
    after: int

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError("StreamFault.kind", self.kind, f"one of {sorted(FAULT_KINDS)}")
        if isinstance(self.after, bool) or not isinstance(self.after, int) or self.after < 0:
            raise ConfigError("StreamFault.after", self.after, "an int >= 0 (events sent)")

    @classmethod
    def cut(cls, after: int) -> StreamFault:
        return cls("cut", after)

    @classmethod
    def stall(cls, after: int) -> StreamFault:
        return cls("stall", after)

    @classmethod
    def truncate(cls, after: int) -> StreamFault:
        return cls("truncate", after)

    @classmethod
    def malformed(cls, at: int) -> StreamFault:
        return cls("malformed", at)

    @classmethod
    def parse(cls, text: str) -> StreamFault | None:
        """``"cut:40"`` -> ``StreamFault("cut", 40)``; None if ``text`` is not one."""
        kind, sep, count = text.partition(":")
        if not sep or kind not in FAULT_KINDS or not count.isdigit():
            return None
        return cls(kind, int(count))  # type: ignore[arg-type]

    def __str__(self) -> str:
        return f"{self.kind}:{self.after}"


def garbage(style: str, request_id: str) -> bytes:
    """An event that looks like the next chunk but whose JSON breaks off."""
    if style == "openai":
        return (
            f'data: {{"id":"chatcmpl-{request_id}","object":"chat.completion.chunk",'
            '"choices":[{"index":0,"delta":{"content":"gar\n\n'
        ).encode()
    return (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"gar\n\n'
    )
