"""Which feature or parameter a provider's rejection names.

The fallback middleware turns off ``Call.features`` entries by name, so the
three it understands come out exactly as ``"tools"``, ``"json"`` and
``"stream"`` whatever the provider called them (``tool_choice``,
``functions``, ``response_format``, ``json_schema``, ``stream_options``...).
Anything else is reported by its parameter name (``"temperature"``,
``"max_tokens"``, ``"parallel_tool_calls"``, ``"images"``).
"""

from __future__ import annotations

import re

__all__ = ["feature_named"]


def _lines(block: str) -> re.Pattern[str]:
    alternatives = [line.strip() for line in block.strip().splitlines() if line.strip()]
    return re.compile("|".join(f"(?:{a})" for a in alternatives), re.I)


# Feature names the fallback middleware turns off ("tools", "json", "stream")
# come first; anything else is reported by its parameter name.
_FEATURE_WORDS: list[tuple[str, re.Pattern[str]]] = [
    ("parallel_tool_calls", _lines(r"parallel[_ ]tool[_ ]calls?")),
    ("json", _lines(r"""
        response[_ ]format
        json[_ ](?:schema|object|mode)
        structured[_ ]output
        \bjson\b
    """)),
    ("stream", _lines(r"\bstream(?:ing|_options)?\b")),
    ("tools", _lines(r"""
        \btools?\b
        tool[_ ](?:use|choice|calls?|calling)
        function[_ ]call
        \bfunctions\b
    """)),
    ("images", _lines(r"\bimages?\b|image[_ ](?:input|url|content)|\bvision\b|multimodal")),
    ("audio", _lines(r"\baudio\b")),
    ("system", _lines(r"(?:system|developer) (?:message|prompt|role|instruction)s?|'system'")),
    ("thinking", _lines(r"\bthinking\b|\breasoning(?:_effort)?\b")),
]  # fmt: skip
_PARAM_ALIASES = {
    "response_format": "json", "json_schema": "json", "json_object": "json",
    "structured_outputs": "json", "text.format": "json", "tools": "tools", "tool_choice": "tools",
    "tool_calls": "tools", "tool": "tools", "functions": "tools", "function_call": "tools",
    "function_calling": "tools", "stream": "stream", "stream_options": "stream",
    "streaming": "stream", "image": "images", "images": "images", "image_url": "images",
    "vision": "images",
}  # fmt: skip
_KNOWN_PARAMS = frozenset(
    {
        *("temperature", "top_p", "top_k", "seed", "stop", "n", "logprobs", "top_logprobs"),
        *("presence_penalty", "frequency_penalty", "logit_bias", "max_tokens", "system"),
        *("max_completion_tokens", "max_output_tokens", "parallel_tool_calls", "store"),
        *("reasoning_effort", "reasoning", "thinking", "service_tier", "metadata", "user"),
        *("prediction", "modalities", "audio", "web_search_options", "cache_control"),
    }
)
_NOT_A_PARAM = re.compile(r"error|invalid|forbidden|unsupported|value|parameter|type", re.I)
_GENERIC_PARAMS = frozenset({"messages", "input", "model", "prompt", "contents", "body", "role"})
_QUOTED = re.compile(r"['\"`]([A-Za-z_][A-Za-z0-9_.\[\]]{1,40})['\"`]")


def _feature_from_param(param: str | None) -> str | None:
    if not param:
        return None
    lowered = param.strip().lower()
    if lowered in _PARAM_ALIASES:
        return _PARAM_ALIASES[lowered]
    base = re.split(r"[\[.]", lowered, maxsplit=1)[0]
    if not base or base in _GENERIC_PARAMS:
        return None
    return _PARAM_ALIASES.get(base, base)


def feature_named(text: str, param: str | None = None) -> str | None:
    """The feature or parameter a rejection names: the ``param`` field, then a
    quoted parameter name, then a feature word, then any quoted snake_case name."""
    found = _feature_from_param(param)
    if found:
        return found
    quoted = [_feature_from_param(m.group(1)) for m in _QUOTED.finditer(text)]
    for name in quoted:
        if name and (name in _PARAM_ALIASES.values() or name in _KNOWN_PARAMS):
            return name
    for name, rx in _FEATURE_WORDS:
        if rx.search(text):
            return name
    for name in quoted:
        if name and "_" in name and not _NOT_A_PARAM.search(name):
            return name
    return None
