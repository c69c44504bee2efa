"""OpenAI chat completion chunks, for checking and resuming streams.

The one place that knows this wire format's streams: which chunk ends an
answer (a ``finish_reason``), what text a chunk carries, how a
continuation's chunks join the caller's stream (the first chunk's id kept, a
second role-only chunk dropped), and how to ask an OpenAI-compatible server
to continue a partial answer (vLLM, SGLang and TGI take
``continue_final_message=True, add_generation_prompt=False`` in the body;
OpenAI itself has no such thing, see :class:`resilience.Continuations`).
LiteLLM's chunks have the same shape and use this too.

Works on the SDK objects by attribute; imports no host package.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from resilience import Call
from resilience.wire import (
    CONTINUE_FINAL_MESSAGE,
    PREFILL,
    RESTART,
    Continuation,
    stream_failure,
)

from ._kit import continued_messages

__all__ = ["CONTINUE_FLAGS", "ChatChunks", "HonestLiteLLMStream", "continue_chat", "replaced"]

# What vLLM-style servers take to continue the final assistant message.
CONTINUE_FLAGS = {"continue_final_message": True, "add_generation_prompt": False}


def replaced(obj: Any, **changes: Any) -> Any:
    """A shallow copy of a pydantic-like object with some fields changed."""
    copier = getattr(obj, "model_copy", None)
    if copier is not None:
        return copier(update=changes)
    new = copy.copy(obj)
    for name, value in changes.items():
        setattr(new, name, value)
    return new


def continue_chat(req: dict[str, Any], continuation: Continuation) -> dict[str, Any]:
    """``req`` (chat completion keyword arguments) asking to continue."""
    if continuation.mechanism == RESTART:
        return req
    out = dict(req)
    if continuation.mechanism == CONTINUE_FINAL_MESSAGE:
        out["messages"] = continued_messages(req.get("messages"), continuation.prefill())
        extra = req.get("extra_body")
        out["extra_body"] = {**(extra if isinstance(extra, Mapping) else {}), **CONTINUE_FLAGS}
    elif continuation.mechanism == PREFILL:  # a Claude model behind an OpenAI-shaped API
        out["messages"] = continued_messages(req.get("messages"), continuation.prefill(rstrip=True))
    return out


def _choice(chunk: Any) -> Any:
    choices = getattr(chunk, "choices", None)
    return choices[0] if choices else None


class _Tracker:
    def __init__(self) -> None:
        self.continuable = True
        self._id: Any = None

    def text(self, chunk: Any) -> str:
        choice = _choice(chunk)
        delta = getattr(choice, "delta", None)
        content = getattr(delta, "content", None)
        return content if isinstance(content, str) else ""

    def observe(self, chunk: Any) -> None:
        if self._id is None:
            self._id = getattr(chunk, "id", None)
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if (
                getattr(choice, "index", 0) != 0
                or getattr(delta, "tool_calls", None)
                or getattr(delta, "function_call", None)
                or getattr(delta, "refusal", None)
            ):
                self.continuable = False  # tool calls, a refusal, several choices

    def begin_continuation(self) -> None:
        pass

    def splice(self, chunk: Any) -> Any | None:
        choice = _choice(chunk)
        if choice is not None and getattr(chunk, "usage", None) is None:
            delta = getattr(choice, "delta", None)
            if (
                getattr(delta, "role", None)
                and not getattr(delta, "content", None)
                and not getattr(delta, "tool_calls", None)
                and getattr(choice, "finish_reason", None) is None
            ):
                return None  # the continuation's own opening: the caller had one
        if self._id is not None and getattr(chunk, "id", None) != self._id:
            chunk = replaced(chunk, id=self._id)
        return chunk

    def without_text(self, chunk: Any, n: int) -> Any | None:
        choice = _choice(chunk)
        delta = getattr(choice, "delta", None)
        rest = self.text(chunk)[n:]
        nothing_else = (
            getattr(choice, "finish_reason", None) is None and getattr(chunk, "usage", None) is None
        )
        if not rest and nothing_else:
            return None
        new_choice = replaced(choice, delta=replaced(delta, content=rest))
        return replaced(chunk, choices=[new_choice, *chunk.choices[1:]])


class ChatChunks:
    """The OpenAI chat chunk stream format; ``mechanisms`` are the
    continuations the adapter using it can send."""

    def __init__(self, mechanisms: frozenset[str]) -> None:
        self.mechanisms = mechanisms | {RESTART}

    @staticmethod
    def finished(chunk: Any) -> bool:
        return any(
            getattr(c, "finish_reason", None) is not None
            for c in getattr(chunk, "choices", None) or ()
        )

    def tracker(self) -> _Tracker:
        return _Tracker()

    def can_send(self, call: Call, mechanism: str) -> bool:
        return mechanism in self.mechanisms

    def __repr__(self) -> str:
        return f"ChatChunks({sorted(self.mechanisms)})"


class HonestLiteLLMStream:
    """LiteLLM's stream without the finish it makes up.

    When a provider's stream ends before its finish reason, LiteLLM 1.106
    still ends it with a ``finish_reason="stop"`` chunk, and the truncated
    answer would pass for a whole one. Its stream says so in
    ``received_finish_reason`` (None: the provider never sent one): that
    chunk becomes the truncation it is. Attribute access goes to LiteLLM's
    stream.
    """

    def __init__(self, stream: Any, call: Call) -> None:
        self._stream = stream
        self._call = call

    def __aiter__(self) -> HonestLiteLLMStream:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._stream.__anext__()
        made_up = getattr(self._stream, "received_finish_reason", "") is None
        if made_up and ChatChunks.finished(chunk):
            raise stream_failure(
                "stream_truncated", "the stream ended before its finish reason", self._call
            )
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
