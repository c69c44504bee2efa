"""What a call really used: input and output tokens, read from its result.

The limiter reserves ``input_tokens + max_output_tokens`` before a call and
reconciles with the actual usage afterwards. The usage comes from, in order:

1. what the adapter reported on this attempt (``resilience.report(usage=...)``,
   found in ``current_attempt().usage``): it always wins;
2. the result itself, in any of the shapes the supported hosts return:
   an OpenAI ``ChatCompletion`` or LiteLLM ``ModelResponse``
   (``.usage.prompt_tokens`` / ``.completion_tokens``), an Anthropic
   ``Message`` or OpenAI Responses result (``.usage.input_tokens`` /
   ``.output_tokens``), a LangChain ``AIMessage`` (``.usage_metadata``), or a
   plain dict of any of these shapes (with or without a ``"usage"`` key).

Nothing here raises: a result without a recognisable usage gives ``None`` and
the reservation stands as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["Usage", "usage_of"]

Usage = tuple[int, int]
"""``(input_tokens, output_tokens)``."""

# Field pairs in the order they are tried.
_PAIRS = (
    ("input_tokens", "output_tokens"),  # Anthropic, OpenAI Responses, LangChain, report()
    ("prompt_tokens", "completion_tokens"),  # OpenAI chat, LiteLLM, Azure, most gateways
)
# Anthropic's prompt caching: writes count against the input limit like input does.
_EXTRA_INPUT = ("cache_creation_input_tokens",)
# Absurd counts are provider garbage, not usage.
_MAX_TOKENS = 100_000_000


def _field(obj: Any, name: str) -> Any:
    if type(obj) is dict:  # the common case, without the ABC check below
        return obj.get(name)
    try:
        if isinstance(obj, Mapping):
            return obj.get(name)
        return getattr(obj, name, None)
    except Exception:
        return None


def _count(value: Any) -> int | None:
    if type(value) is int:
        return value if 0 <= value <= _MAX_TOKENS else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 0 or value > _MAX_TOKENS:
        return None
    return int(value)


def _from_usage(usage: Any) -> Usage | None:
    """Read one usage object or mapping; None unless it holds a count."""
    if usage is None or isinstance(usage, str | bytes | int | float):
        return None
    for inp, out in _PAIRS:
        raw_in, raw_out = _field(usage, inp), _field(usage, out)
        if raw_in is None and raw_out is None:
            continue
        i, o = _count(raw_in), _count(raw_out)
        if i is None and o is None:
            continue
        i = i or 0
        for extra in _EXTRA_INPUT:
            more = _field(usage, extra)
            if more is not None:
                i += _count(more) or 0
        return i, o or 0
    total = _count(_field(usage, "total_tokens"))
    if total is not None:
        return total, 0
    return None


def usage_of(result: Any, reported: Mapping[str, Any] | None = None) -> Usage | None:
    """``(input_tokens, output_tokens)`` of a call, or None when unknown."""
    if reported is not None:
        found = _from_usage(reported)
        if found is not None:
            return found
    if result is None or isinstance(result, str | bytes | int | float | bool):
        return None
    try:
        for name in ("usage", "usage_metadata"):
            found = _from_usage(_field(result, name))
            if found is not None:
                return found
        if isinstance(result, Mapping):
            return _from_usage(result)
    except Exception:
        return None
    return None
