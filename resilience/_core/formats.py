"""One table per request wire format: which features a request asks for,
the same request without some of them, and the usage its answer reports.

Fallback degrades a call (drops ``tools``, ``json`` or ``stream``) when a
target cannot take a feature; the adapters then send the request without
the parameters that asked for it. The limiter reconciles its reservation
with the usage a result reports. Both read the same tables, so the
parameter names and usage fields of a format are written once.

Usage counts what the provider's rate limit counts: for Anthropic, cache
writes count towards the input limit and cache reads do not (the documented
rule for current Claude models), so ``cache_creation_input_tokens`` is added
to the input and ``cache_read_input_tokens`` is left out. OpenAI's cached
tokens are already inside ``prompt_tokens``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

__all__ = [
    "ANTHROPIC_MESSAGES",
    "FORMATS",
    "LANGCHAIN",
    "LITELLM",
    "OPENAI_CHAT",
    "OPENAI_RESPONSES",
    "WireFormat",
    "format_for_path",
    "read_count",
]

_JSON_TYPES = frozenset({"json_object", "json_schema"})
# Absurd counts are provider garbage, not usage.
MAX_TOKENS = 100_000_000


def read_count(value: Any) -> int | None:
    """A token count, or None for anything that is not a sane one."""
    if type(value) is int:
        return value if 0 <= value <= MAX_TOKENS else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0 or value > MAX_TOKENS:
        return None
    return int(value)


def field_of(obj: Any, name: str) -> Any:
    """``obj[name]`` or ``obj.name``, None when absent or unreadable."""
    if type(obj) is dict:  # the common case, without the ABC check below
        return obj.get(name)
    try:
        if isinstance(obj, Mapping):
            return obj.get(name)
        return getattr(obj, name, None)
    except Exception:
        return None


def _asks_json(value: Any) -> bool:
    # A mapping names its type ("text" asks for nothing); anything else given
    # (an SDK's schema class, a pydantic model) asks for structured output.
    if value is None:
        return False
    if isinstance(value, Mapping):
        return value.get("type") in _JSON_TYPES
    return True


@dataclass(frozen=True)
class WireFormat:
    """The parameters and usage fields of one request format.

    ``tool_keys``: every parameter about tools (all go when ``tools`` is
    dropped; the first ``tool_markers`` of them ask for tools).
    ``json_keys``: top-level parameters asking for structured output;
    ``json_nested``: ``(parameter, key)`` pairs where the key inside the
    parameter asks for it (the parameter goes too once nothing is left).
    ``stream_keys``: the first ``stream_markers`` ask for a stream, all go
    when it is dropped.
    ``usage_fields``: the input and output counts of the usage object;
    ``extra_input``: counts added to the input.
    """

    name: str
    tool_keys: tuple[str, ...]
    tool_markers: int
    json_keys: tuple[str, ...]
    json_nested: tuple[tuple[str, str], ...]
    stream_keys: tuple[str, ...]
    usage_fields: tuple[str, str]
    extra_input: tuple[str, ...] = ()
    stream_markers: int = 1

    def features(self, params: Mapping[str, Any] | None) -> frozenset[str]:
        """The features ``params`` ask for: ``tools``, ``json``, ``stream``."""
        if not params:
            return frozenset()
        feats: set[str] = set()
        if any(params.get(k) for k in self.tool_keys[: self.tool_markers]):
            feats.add("tools")
        if any(_asks_json(params.get(k)) for k in self.json_keys) or any(
            isinstance(outer := params.get(p), Mapping) and _asks_json(outer.get(k))
            for p, k in self.json_nested
        ):
            feats.add("json")
        if any(params.get(k) for k in self.stream_keys[: self.stream_markers]):
            feats.add("stream")
        return frozenset(feats)

    def without(self, params: Mapping[str, Any], dropped: frozenset[str]) -> dict[str, Any]:
        """A copy of ``params`` that no longer asks for the ``dropped`` features."""
        req = dict(params)
        if "tools" in dropped:
            for key in self.tool_keys:
                req.pop(key, None)
        if "json" in dropped:
            for key in self.json_keys:
                req.pop(key, None)
            for outer_key, key in self.json_nested:
                outer = req.get(outer_key)
                if isinstance(outer, Mapping) and key in outer:
                    rest = {k: v for k, v in outer.items() if k != key}
                    if rest:
                        req[outer_key] = rest
                    else:
                        req.pop(outer_key)
        if "stream" in dropped:
            for key in self.stream_keys:
                req.pop(key, None)
        return req

    def usage(self, usage: Any) -> dict[str, int] | None:
        """``{"input_tokens", "output_tokens"}`` from a usage object or
        mapping of this format, None when it holds no count."""
        if usage is None or isinstance(usage, str | bytes | int | float):
            return None
        inp, out = self.usage_fields
        i, o = read_count(field_of(usage, inp)), read_count(field_of(usage, out))
        if i is None and o is None:
            return None
        i = i or 0
        for extra in self.extra_input:
            i += read_count(field_of(usage, extra)) or 0
        return {"input_tokens": i, "output_tokens": o or 0}


_CHAT_TOOLS = ("tools", "functions", "tool_choice", "parallel_tool_calls", "function_call")

OPENAI_CHAT = WireFormat(
    name="openai.chat",
    tool_keys=_CHAT_TOOLS,
    tool_markers=2,
    json_keys=("response_format",),
    json_nested=(),
    stream_keys=("stream", "stream_options"),
    usage_fields=("prompt_tokens", "completion_tokens"),
)
OPENAI_RESPONSES = WireFormat(
    name="openai.responses",
    tool_keys=("tools", "tool_choice", "parallel_tool_calls"),
    tool_markers=1,
    json_keys=(),
    json_nested=(("text", "format"),),
    stream_keys=("stream", "stream_options"),
    usage_fields=("input_tokens", "output_tokens"),
)
ANTHROPIC_MESSAGES = WireFormat(
    name="anthropic.messages",
    tool_keys=("tools", "tool_choice"),
    tool_markers=1,
    json_keys=("output_format",),
    json_nested=(("output_config", "format"),),
    stream_keys=("stream",),
    usage_fields=("input_tokens", "output_tokens"),
    extra_input=("cache_creation_input_tokens",),
)
# LiteLLM takes OpenAI chat parameters whatever the provider behind it.
LITELLM = replace(OPENAI_CHAT, name="litellm")
LANGCHAIN = WireFormat(
    name="langchain",  # a chat model's invocation params and bind_tools() arguments
    tool_keys=("tools", "functions", "tool_choice", "parallel_tool_calls", "strict"),
    tool_markers=2,
    json_keys=("response_format",),
    json_nested=(),
    stream_keys=("stream", "streaming"),
    usage_fields=("input_tokens", "output_tokens"),
    stream_markers=2,
)
FORMATS: tuple[WireFormat, ...] = (
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    ANTHROPIC_MESSAGES,
    LITELLM,
    LANGCHAIN,
)


def format_for_path(path: str) -> WireFormat:
    """The format of an HTTP request by its path: Anthropic's ``/messages``,
    OpenAI's ``/responses``, otherwise OpenAI chat (what gateways speak)."""
    tail = path.rstrip("/")
    if tail.endswith("/messages"):
        return ANTHROPIC_MESSAGES
    if tail.endswith("/responses"):
        return OPENAI_RESPONSES
    return OPENAI_CHAT
