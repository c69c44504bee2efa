"""Rate-limit response headers of LLM providers, parsed into one shape.

Providers report their limits in three dialects:

* OpenAI style (also Azure OpenAI, Groq, xAI, Together, DeepSeek and most
  OpenAI-compatible servers): ``x-ratelimit-limit-requests``,
  ``x-ratelimit-remaining-tokens``, ``x-ratelimit-reset-requests`` where the
  reset is a Go-style duration such as ``6m0s`` or ``12ms``.
* Anthropic style: ``anthropic-ratelimit-{requests,tokens,input-tokens,
  output-tokens}-{limit,remaining,reset}`` where the reset is an RFC 3339
  instant. It is turned into seconds measured from the response's own ``date``
  header when present, so a skewed local clock does not distort it.
* Generic: ``retry-after-ms``, ``x-ms-retry-after-ms`` (Azure), ``retry-after``
  (seconds or an HTTP date), and the ``x-ratelimit-limit/remaining/reset``
  triple some gateways send (OpenRouter sends the reset as epoch milliseconds).

Every reset and ``retry_after`` is in seconds from now. Nothing here raises:
provider garbage yields ``None`` for the field it spoiled.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "RateLimitInfo",
    "header_dict",
    "parse_duration",
    "parse_http_date",
    "parse_ratelimit_headers",
    "parse_retry_after",
]

# A Go time.Duration string ("1m9.696s", "2h3m", "12ms") or the same with spaces.
_UNIT_SECONDS = {
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "min": 60.0,
    "s": 1.0,
    "sec": 1.0,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ns": 1e-9,
}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(ms|min|sec|us|µs|μs|ns|d|h|m|s)", re.I)
_PLAIN_NUMBER = re.compile(r"\s*[+]?(\d+(?:\.\d*)?|\.\d+)\s*")

# Epoch values are told apart from deltas by size: no provider asks for a
# wait of 30 years, and epoch seconds have been above 1e9 since 2001.
_EPOCH_SECONDS_MIN = 1e9
_EPOCH_MILLIS_MIN = 1e12


def parse_duration(text: str) -> float | None:
    """Seconds in a duration such as ``6m0s``, ``1s``, ``12ms``, ``2h3m`` or ``0.5``.

    A bare number is seconds. Returns None for anything else (negative,
    empty, unknown units, NaN).
    """
    try:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        if not isinstance(text, str):
            if isinstance(text, int | float) and not isinstance(text, bool):
                v = float(text)
                return v if math.isfinite(v) and v >= 0 else None
            return None
        s = text.strip()
        if not s or len(s) > 64:
            return None
        m = _PLAIN_NUMBER.fullmatch(s)
        if m:
            v = float(m.group(1))
            return v if math.isfinite(v) else None
        total = 0.0
        pos = 0
        for part in _DURATION_PART.finditer(s):
            if part.start() != pos:
                return None
            total += float(part.group(1)) * _UNIT_SECONDS[part.group(2).lower()]
            pos = part.end()
        if pos == 0 or s[pos:].strip():
            return None
        return total if math.isfinite(total) else None
    except Exception:
        return None


def parse_http_date(text: str) -> float | None:
    """Epoch seconds of an HTTP date (``Wed, 21 Oct 2015 07:28:00 GMT``) or None."""
    try:
        dt = parsedate_to_datetime(text.strip())
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    except Exception:
        return None


def _parse_rfc3339(text: str) -> float | None:
    try:
        s = text.strip()
        if s.endswith(("Z", "z")):
            s = s[:-1] + "+00:00"
        dt = datetime.fromisoformat(s)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return dt.timestamp()
    except Exception:
        return None


def header_dict(headers: Any) -> dict[str, str]:
    """Lower-cased name -> value for a Mapping, httpx.Headers, CIMultiDict or pairs.

    The first value wins when a name repeats. Never raises.
    """
    out: dict[str, str] = {}
    if headers is None:
        return out
    try:
        pairs: Iterable[Any]
        if hasattr(headers, "multi_items"):  # httpx.Headers: items() would join repeats
            pairs = headers.multi_items()
        elif hasattr(headers, "items"):
            pairs = headers.items()
        elif isinstance(headers, str | bytes):
            pairs = _parse_raw_headers(headers)
        else:
            pairs = headers
        for n, pair in enumerate(pairs):
            if n > 500:
                break
            try:
                k, v = pair
                key = (k.decode("latin-1") if isinstance(k, bytes) else str(k)).strip().lower()
                if isinstance(v, bytes):
                    val = v.decode("latin-1")
                elif isinstance(v, list | tuple) and v:
                    val = str(v[0])
                else:
                    val = str(v)
                out.setdefault(key, val.strip())
            except Exception:
                continue
    except Exception:
        return out
    return out


def _parse_raw_headers(raw: str | bytes) -> list[tuple[str, str]]:
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    pairs = []
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip():
            pairs.append((name, value))
    return pairs


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        v = float(value.strip())
    except (ValueError, AttributeError):
        return None
    if not math.isfinite(v) or v < 0:
        return None
    return int(v)


def _reset(value: str | None, base: float) -> float | None:
    """Seconds until a reset given as a duration, a number, or an instant."""
    return _reset_grain(value, base)[0]


def _reset_grain(value: str | None, base: float) -> tuple[float | None, bool]:
    """:func:`_reset`, and whether the value was only given to the whole
    second (an instant without a fraction, or a bare whole number): such a
    reading of a short reset is off by up to a second."""
    if value is None:
        return None, False
    s = value.strip()
    if not s:
        return None, False
    d = parse_duration(s)
    if d is not None:
        if d >= _EPOCH_MILLIS_MIN:
            return max(0.0, d / 1000.0 - base), False
        if d >= _EPOCH_SECONDS_MIN:
            return max(0.0, d - base), d == int(d)
        return d, _PLAIN_NUMBER.fullmatch(s) is not None and d == int(d)
    at = _parse_rfc3339(s)
    if at is None:
        at = parse_http_date(s)
    if at is None:
        return None, False
    return max(0.0, at - base), at == int(at)


def parse_retry_after(h: Mapping[str, str], base: float) -> float | None:
    """``retry-after-ms``, ``x-ms-retry-after-ms``, then ``retry-after``, in seconds."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        ms = h.get(name)
        if ms is not None:
            v = parse_duration(ms)
            if v is not None:
                return v / 1000.0
    ra = h.get("retry-after")
    if ra is None:
        return None
    v = parse_duration(ra)
    if v is not None:
        if v >= _EPOCH_SECONDS_MIN:  # an epoch despite the standard; seen on gateways
            return _reset(ra, base)
        return v
    at = parse_http_date(ra)
    if at is None:
        return None
    return max(0.0, at - base)


@dataclass(frozen=True, slots=True)
class RateLimitInfo:
    """What the provider said about its limits. ``None`` means not sent.

    Resets and ``retry_after`` are seconds from the moment of the response.
    """

    requests_limit: int | None = None
    requests_remaining: int | None = None
    requests_reset: float | None = None
    tokens_limit: int | None = None
    tokens_remaining: int | None = None
    tokens_reset: float | None = None
    input_tokens_limit: int | None = None
    input_tokens_remaining: int | None = None
    input_tokens_reset: float | None = None
    output_tokens_limit: int | None = None
    output_tokens_remaining: int | None = None
    output_tokens_reset: float | None = None
    retry_after: float | None = None
    coarse_resets: bool = False
    """Some reset was given only to the whole second (Anthropic's RFC 3339
    instants, epoch seconds): a short reset is then known within a second."""

    @property
    def longest_reset(self) -> float | None:
        """The longest of the resets sent, or None."""
        resets = [
            r
            for r in (
                self.requests_reset,
                self.tokens_reset,
                self.input_tokens_reset,
                self.output_tokens_reset,
            )
            if r is not None
        ]
        return max(resets) if resets else None


# (field prefix, OpenAI name part, Anthropic name part)
_DIMENSIONS = (
    ("requests", "requests", "requests"),
    ("tokens", "tokens", "tokens"),
    ("input_tokens", "input-tokens", "input-tokens"),
    ("output_tokens", "output-tokens", "output-tokens"),
)


def parse_ratelimit_headers(
    headers: Mapping[str, str] | Any | None, *, now: float | None = None
) -> RateLimitInfo | None:
    """Parse the rate-limit headers of a response; None when it sent none.

    ``now`` is wall-clock epoch seconds (default ``time.time()``); it is the
    base for absolute resets only when the response carries no ``date``.
    """
    try:
        h = header_dict(headers)
        if not h:
            return None
        base = None
        if "date" in h:
            base = parse_http_date(h["date"])
        if base is None:
            base = time.time() if now is None else float(now)
        fields: dict[str, Any] = {}
        coarse = False
        for field, oa, an in _DIMENSIONS:
            limit = h.get(f"anthropic-ratelimit-{an}-limit", h.get(f"x-ratelimit-limit-{oa}"))
            remaining = h.get(
                f"anthropic-ratelimit-{an}-remaining", h.get(f"x-ratelimit-remaining-{oa}")
            )
            reset = h.get(f"anthropic-ratelimit-{an}-reset", h.get(f"x-ratelimit-reset-{oa}"))
            fields[f"{field}_limit"] = _int(limit)
            fields[f"{field}_remaining"] = _int(remaining)
            fields[f"{field}_reset"], grain = _reset_grain(reset, base)
            coarse = coarse or grain
        # The bare triple (OpenRouter, many gateways) counts requests.
        if fields["requests_limit"] is None:
            fields["requests_limit"] = _int(h.get("x-ratelimit-limit", h.get("ratelimit-limit")))
        if fields["requests_remaining"] is None:
            fields["requests_remaining"] = _int(
                h.get("x-ratelimit-remaining", h.get("ratelimit-remaining"))
            )
        if fields["requests_reset"] is None:
            fields["requests_reset"], grain = _reset_grain(
                h.get("x-ratelimit-reset", h.get("ratelimit-reset")), base
            )
            coarse = coarse or grain
        fields["retry_after"] = parse_retry_after(h, base)
        if all(v is None for v in fields.values()):
            return None
        return RateLimitInfo(**fields, coarse_resets=coarse)
    except Exception:
        return None
