"""What the fake model says: deterministic text, tool arguments and JSON, cheaply.

The answer depends only on a hash of the request, never on its words, so tests
can compare runs and nothing a user sends is echoed back. The hash leaves out
what does not change the question (the model, streaming, the output cap, and a
final assistant message the model is asked to continue), so every model gives
the same answer to the same prompt, and a request to continue a partial answer
(Anthropic prefill, ``continue_final_message``) gets exactly the rest of it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_OUTPUT_TOKENS",
    "Request",
    "answer_pieces",
    "continuation",
    "estimate_chars",
    "json_for_schema",
    "prompt_digest",
    "text_of",
    "words",
]

DEFAULT_OUTPUT_TOKENS = 12

_VOCAB = (
    "the", "fake", "provider", "answers", "with", "steady", "calm", "words", "while", "your",
    "client", "copes", "rate", "limits", "retries", "and", "fallbacks", "keep", "traffic",
    "moving", "through", "every", "outage", "so", "requests", "finish", "on", "time", "under",
    "load", "a", "circuit", "breaker", "waits", "before", "probing", "again", "tokens", "flow",
    "back", "as", "quota", "returns", "each", "second", "brings", "fresh", "capacity",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Request:
    """What both wire formats need to know about one incoming request."""

    model: str
    stream: bool
    input_tokens: int
    max_tokens: int | None
    features: frozenset[str]  # "tools", "json", "stream"
    tool: tuple[str, Mapping[str, Any]] | None  # name and JSON schema of the tool to call
    json_schema: Mapping[str, Any] | None  # schema for JSON mode ({} for json_object)
    include_usage: bool
    digest: int  # hash of the prompt (see prompt_digest), drives the generated text
    prefill: str | None = None  # the partial answer to continue, if asked to

    @property
    def output_tokens(self) -> int:
        if self.max_tokens is None:
            return DEFAULT_OUTPUT_TOKENS
        return max(1, min(self.max_tokens, DEFAULT_OUTPUT_TOKENS))

    @property
    def truncated(self) -> bool:
        return self.max_tokens is not None and self.max_tokens < DEFAULT_OUTPUT_TOKENS

    @property
    def cost(self) -> int:
        """Tokens charged to the limiter: the prompt plus what may be generated."""
        return self.input_tokens + (
            self.max_tokens if self.max_tokens is not None else DEFAULT_OUTPUT_TOKENS
        )


# Request fields that do not change what the fake model answers.
_NOT_THE_QUESTION = frozenset(
    {
        "model",
        "stream",
        "stream_options",
        "max_tokens",
        "max_completion_tokens",
        "continue_final_message",
        "add_generation_prompt",
    }
)


def prompt_digest(body: Mapping[str, Any], *, continuing: bool = False) -> int:
    """A hash of what was asked; ``continuing`` leaves out the final message (the
    partial answer), so a continuation answers the same question."""
    asked = {k: v for k, v in body.items() if k not in _NOT_THE_QUESTION}
    messages = asked.get("messages")
    if continuing and isinstance(messages, list):
        asked["messages"] = messages[:-1]
    blob = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
    return zlib.crc32(blob.encode())


def text_of(content: Any) -> str:
    """The text of a message content (a string, or a list of text parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(
            p["text"]
            for p in content
            if isinstance(p, Mapping)
            and p.get("type", "text") == "text"
            and "text" in p
            and isinstance(p["text"], str)
        )
    return ""


def continuation(pieces: list[str], prefill: str) -> list[str]:
    """The pieces of an answer that come after ``prefill``. A prefill that is not
    the start of this answer gets the whole answer (a model would start anew)."""
    if not "".join(pieces).startswith(prefill):
        return pieces
    rest: list[str] = []
    done = 0
    for piece in pieces:
        end = done + len(piece)
        if end > len(prefill):
            rest.append(piece[max(0, len(prefill) - done) :])
        done = end
    return rest


def estimate_chars(content: Any) -> int:
    """Characters of text in a message content (string or list of parts)."""
    if isinstance(content, str):
        return len(content)
    total = 0
    if isinstance(content, Sequence):
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    total += len(text)
                elif "content" in part:
                    total += estimate_chars(part["content"])
                elif "input" in part or "arguments" in part:
                    total += len(str(part.get("input") or part.get("arguments")))
    return total


def words(seed: int, n: int) -> list[str]:
    """``n`` words (one token each) chosen by a small LCG seeded with ``seed``."""
    out: list[str] = []
    state = seed & 0xFFFFFFFF
    for i in range(n):
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        w = _VOCAB[(state >> 8) % len(_VOCAB)]
        out.append(w if i == 0 else " " + w)
    if out:
        out[0] = out[0].capitalize()
        out[-1] += "."
    return out


def _value(schema: Any, seed: int, depth: int) -> Any:
    if not isinstance(schema, Mapping) or depth > 6:
        return "fake"
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combo in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combo)
        if isinstance(options, list) and options:
            return _value(options[0], seed, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or (kind is None and "properties" in schema):
        return json_for_schema(schema, seed, depth + 1)
    if kind == "array":
        return [_value(schema.get("items", {}), seed, depth + 1)]
    if kind == "integer":
        return seed % 100
    if kind == "number":
        return (seed % 1000) / 10
    if kind == "boolean":
        return bool(seed & 1)
    if kind == "null":
        return None
    return _VOCAB[seed % len(_VOCAB)]


def json_for_schema(schema: Mapping[str, Any], seed: int, depth: int = 0) -> dict[str, Any]:
    """An object that satisfies a (simple) JSON schema: every property filled in."""
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        return {"answer": " ".join(words(seed, 3)).strip()} if depth == 0 else {}
    return {str(k): _value(v, seed + i, depth) for i, (k, v) in enumerate(props.items())}


def json_text(schema: Mapping[str, Any], seed: int) -> str:
    return json.dumps(json_for_schema(schema, seed), separators=(",", ":"))


def answer_pieces(req: Request) -> tuple[list[str], int]:
    """A text answer as it streams (words, or JSON in 16-character pieces) and its
    output tokens; after a prefill, only what follows it."""
    if req.json_schema is not None:
        text = json_text(req.json_schema, req.digest)
        pieces = [text[i : i + 16] for i in range(0, len(text), 16)]
    else:
        pieces = words(req.digest, req.output_tokens)
    if req.prefill is not None:
        pieces = continuation(pieces, req.prefill)
    if req.json_schema is not None:
        return pieces, max(1, len("".join(pieces)) // 4)
    return pieces, max(1, len(pieces))
