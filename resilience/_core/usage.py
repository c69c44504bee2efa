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

from collections.abc import Mapping
from typing import Any

from resilience._core.formats import FORMATS, field_of, read_count

__all__ = ["Usage", "usage_of"]

Usage = tuple[int, int]
"""``(input_tokens, output_tokens)``."""

# One format per pair of usage field names, the one counting the most extra
# input (extras absent from a usage object add nothing), in the order they are
# tried: input/output names first, as report() and most formats use them.
_SHAPES = sorted(
    {f.usage_fields: f for f in sorted(FORMATS, key=lambda f: len(f.extra_input))}.values(),
    key=lambda f: f.usage_fields != ("input_tokens", "output_tokens"),
)


def _from_usage(usage: Any) -> Usage | None:
    """Read one usage object or mapping; None unless it holds a count."""
    if usage is None or isinstance(usage, str | bytes | int | float):
        return None
    for shape in _SHAPES:
        found = shape.usage(usage)
        if found is not None:
            return found["input_tokens"], found["output_tokens"]
    total = read_count(field_of(usage, "total_tokens"))
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
            found = _from_usage(field_of(result, name))
            if found is not None:
                return found
        if isinstance(result, Mapping):
            return _from_usage(result)
    except Exception:
        return None
    return None
