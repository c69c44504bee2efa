"""LangChain message chunks, for checking and resuming ResilientChatModel's
streams; the continuation request maps onto the inner model's own format (a
prefill for ChatAnthropic, ``continue_final_message`` in ``extra_body`` for a
ChatOpenAI pointed at a vLLM-style server).

An answer is finished by a chunk whose ``response_metadata`` carries a
``finish_reason`` (OpenAI) or a ``stop_reason`` (Anthropic). LangChain ends
every stream with a ``chunk_position="last"`` chunk, even one cut short:
:class:`HonestChunks` turns that one into the truncation it is.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage

from resilience import Call
from resilience.wire import (
    CONTINUE_FINAL_MESSAGE,
    PREFILL,
    RESTART,
    Continuation,
    stream_failure,
)

from ._stream_openai import CONTINUE_FLAGS, replaced

__all__ = ["HonestChunks", "MessageChunks", "continue_langchain", "one_chunk"]


def _finished(chunk: Any) -> bool:
    meta = getattr(chunk, "response_metadata", None) or {}
    return bool(meta.get("finish_reason") or meta.get("stop_reason"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text"
        )
    return ""


def continue_langchain(
    messages: list[BaseMessage], continuation: Continuation, model: Any
) -> tuple[list[BaseMessage], dict[str, Any]]:
    """The messages and extra invocation arguments that ask ``model`` to continue."""
    if continuation.mechanism == RESTART:
        return messages, {}
    prefill = continuation.mechanism == PREFILL
    text = continuation.prefill(rstrip=prefill)
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and isinstance(last.content, str):
        out = [*messages[:-1], AIMessage(content=last.content + text)]  # the caller's own prefill
    else:
        out = [*messages, AIMessage(content=text)]
    if prefill:
        return out, {}
    extra = getattr(model, "extra_body", None)
    return out, {"extra_body": {**(extra if isinstance(extra, Mapping) else {}), **CONTINUE_FLAGS}}


class _Tracker:
    def __init__(self) -> None:
        self.continuable = True
        self._id: Any = None

    def text(self, chunk: Any) -> str:
        return _text(getattr(chunk, "content", None))

    def observe(self, chunk: Any) -> None:
        if self._id is None:
            self._id = getattr(chunk, "id", None)
        content = getattr(chunk, "content", None)
        blocks = content if isinstance(content, list) else []
        if getattr(chunk, "tool_call_chunks", None) or any(
            isinstance(b, Mapping) and b.get("type") != "text" for b in blocks
        ):
            self.continuable = False

    def begin_continuation(self) -> None:
        pass

    def splice(self, chunk: Any) -> Any | None:
        if self._id is not None and getattr(chunk, "id", None) != self._id:
            return replaced(chunk, id=self._id)
        return chunk

    def without_text(self, chunk: Any, n: int) -> Any | None:
        rest = self.text(chunk)[n:]
        if not rest and not _finished(chunk) and not getattr(chunk, "usage_metadata", None):
            return None
        return replaced(chunk, content=rest)


class MessageChunks:
    """ResilientChatModel's stream format; ``models`` maps each target to its
    inner chat model, which decides how it can be asked to continue."""

    def __init__(self, models: Mapping[str, Any]) -> None:
        self._models = models

    finished = staticmethod(_finished)

    def tracker(self) -> _Tracker:
        return _Tracker()

    def can_send(self, call: Call, mechanism: str) -> bool:
        model = self._models.get(call.target)
        if mechanism == RESTART:
            return model is not None
        if mechanism == PREFILL:
            return "anthropic" in str(getattr(model, "_llm_type", ""))
        if mechanism == CONTINUE_FINAL_MESSAGE:
            return "extra_body" in getattr(type(model), "model_fields", {})
        return False


class HonestChunks:
    """An inner model's chunk stream, its closing ``chunk_position="last"``
    chunk refused when no finish came before it (a truncated stream)."""

    def __init__(self, stream: Any, call: Call) -> None:
        self._stream = stream
        self._call = call
        self._finished = False

    def __aiter__(self) -> HonestChunks:
        return self

    async def __anext__(self) -> Any:
        chunk = await self._stream.__anext__()
        self._finished = self._finished or _finished(chunk)
        if getattr(chunk, "chunk_position", None) == "last" and not self._finished:
            raise stream_failure(
                "stream_truncated", "the stream ended before its finish reason", self._call
            )
        return chunk

    async def aclose(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()


async def one_chunk(message: AIMessage) -> AsyncIterator[AIMessageChunk]:
    """A whole message as a one-chunk stream (for a model that cannot stream)."""
    yield AIMessageChunk(
        content=message.content,
        additional_kwargs=message.additional_kwargs,
        response_metadata=message.response_metadata,
        tool_call_chunks=[
            {"name": tc["name"], "args": json.dumps(tc["args"]), "id": tc.get("id"), "index": i}
            for i, tc in enumerate(message.tool_calls)
        ],
        usage_metadata=message.usage_metadata,
        id=message.id,
    )
