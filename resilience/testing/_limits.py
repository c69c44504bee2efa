"""Provider-style rate limits: requests and tokens per minute, per API key and model.

Providers state limits per minute but enforce them over much shorter windows, so
a client that fires a whole minute's quota at once is refused after the first
second's worth. Each dimension therefore keeps two token buckets refilled at
``limit / 60`` per second: a short one holding one second of quota (which decides)
and a minute one holding the full limit (which the ``remaining``/``reset`` headers
report, as providers do).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime

__all__ = [
    "Decision",
    "RateLimits",
    "anthropic_headers",
    "exhausted",
    "format_duration",
    "openai_headers",
    "rfc3339",
]

_SHORT_WINDOW = 1.0  # seconds of quota the short bucket holds


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: ``12ms``, ``1s``, ``2.5s``, ``6m0s``."""
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{max(1, round(seconds * 1000))}ms"
    if seconds < 60:
        return f"{round(seconds, 3):g}s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{round(rest, 3):g}s"


class _Bucket:
    """A limit enforced the provider way (see the module docstring)."""

    __slots__ = ("limit", "long", "rate", "short", "short_cap", "stamp")

    def __init__(self, limit: int, now: float) -> None:
        self.limit = limit
        self.rate = limit / 60.0
        self.short_cap = max(1.0, self.rate * _SHORT_WINDOW)
        self.short = self.short_cap
        self.long = float(limit)
        self.stamp = now

    def refill(self, now: float) -> None:
        dt = now - self.stamp
        if dt > 0:
            self.short = min(self.short_cap, self.short + dt * self.rate)
            self.long = min(float(self.limit), self.long + dt * self.rate)
            self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` would be admitted (0 = now)."""
        # A request larger than the short window is admitted once that window is
        # full, and pushes the bucket into debt, so big prompts are not starved.
        need = min(amount, self.short_cap)
        short_wait = max(0.0, (need - self.short) / self.rate)
        long_wait = max(0.0, (min(amount, self.limit) - self.long) / self.rate)
        return max(short_wait, long_wait)

    def take(self, amount: float) -> None:
        self.short -= amount
        self.long -= amount

    def remaining(self) -> int:
        return max(0, math.floor(self.long))

    def reset_after(self) -> float:
        """Seconds until the bucket is back to its full limit."""
        return max(0.0, (self.limit - self.long) / self.rate)


@dataclass(frozen=True, slots=True)
class Decision:
    """The limiter's answer for one request, and what the headers should say."""

    allowed: bool
    retry_after: float  # seconds; 0 when allowed
    exceeded: str | None  # "requests" or "tokens" when refused
    too_large: bool  # the request alone exceeds the per-minute token limit
    requested: int  # of the exceeded dimension
    rpm: int | None
    tpm: int | None
    remaining_requests: int
    remaining_tokens: int
    reset_requests: float  # seconds until full
    reset_tokens: float


class _KeyState:
    __slots__ = ("requests", "tokens")

    def __init__(self, rpm: int | None, tpm: int | None, now: float) -> None:
        self.requests = _Bucket(rpm, now) if rpm else None
        self.tokens = _Bucket(tpm, now) if tpm else None


class RateLimits:
    """Per (API key, model) request and token limits, on a caller-supplied clock reading."""

    def __init__(self, rpm: int | None, tpm: int | None) -> None:
        self.rpm = rpm
        self.tpm = tpm
        self._states: dict[tuple[str, str], _KeyState] = {}

    @property
    def enabled(self) -> bool:
        return bool(self.rpm or self.tpm)

    def check(
        self, key: str, model: str, tokens: int, now: float, *, charge: bool = True
    ) -> Decision:
        """Admit (and charge) one request of ``tokens`` estimated tokens, or refuse it.

        With ``charge=False`` nothing is taken: the answer only feeds the headers of a
        response decided elsewhere (scripted, outage, invalid request)."""
        state = self._states.get((key, model))
        if state is None:
            state = self._states[(key, model)] = _KeyState(self.rpm, self.tpm, now)
        req, tok = state.requests, state.tokens
        if req is not None:
            req.refill(now)
        if tok is not None:
            tok.refill(now)
        exceeded: str | None = None
        retry = 0.0
        requested = 1
        too_large = False
        if tok is not None and tokens > tok.limit:
            exceeded, too_large, requested = "tokens", True, tokens
        else:
            if req is not None:
                retry = req.wait_for(1)
                if retry > 0:
                    exceeded = "requests"
            if tok is not None:
                tok_wait = tok.wait_for(tokens)
                if tok_wait > retry:
                    retry, exceeded, requested = tok_wait, "tokens", tokens
        allowed = exceeded is None
        if allowed and charge:
            if req is not None:
                req.take(1)
            if tok is not None:
                tok.take(tokens)
        return Decision(
            allowed=allowed,
            retry_after=retry,
            exceeded=exceeded,
            too_large=too_large,
            requested=requested,
            rpm=self.rpm,
            tpm=self.tpm,
            remaining_requests=req.remaining() if req is not None else 0,
            remaining_tokens=tok.remaining() if tok is not None else 0,
            reset_requests=req.reset_after() if req is not None else 0.0,
            reset_tokens=tok.reset_after() if tok is not None else 0.0,
        )


def exhausted(d: Decision, tokens: int, retry_after: float = 1.0) -> Decision:
    """``d`` as if its budget had just run dry: for 429s injected by a profile while real
    limits are configured, so body and headers agree with each other."""
    if d.rpm:
        return replace(
            d, allowed=False, exceeded="requests", retry_after=retry_after, requested=1,
            remaining_requests=0, reset_requests=max(d.reset_requests, retry_after),
        )  # fmt: skip
    return replace(
        d, allowed=False, exceeded="tokens", retry_after=retry_after, requested=tokens,
        remaining_tokens=0,
        reset_tokens=max(d.reset_tokens, retry_after),
    )  # fmt: skip


def openai_headers(d: Decision) -> dict[str, str]:
    """``x-ratelimit-*`` headers, as OpenAI sends on every answer."""
    h: dict[str, str] = {}
    if d.rpm:
        h["x-ratelimit-limit-requests"] = str(d.rpm)
        h["x-ratelimit-remaining-requests"] = str(d.remaining_requests)
        h["x-ratelimit-reset-requests"] = format_duration(d.reset_requests)
    if d.tpm:
        h["x-ratelimit-limit-tokens"] = str(d.tpm)
        h["x-ratelimit-remaining-tokens"] = str(d.remaining_tokens)
        h["x-ratelimit-reset-tokens"] = format_duration(d.reset_tokens)
    return h


def rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def anthropic_headers(d: Decision, wall_now: float) -> dict[str, str]:
    """``anthropic-ratelimit-*`` headers; resets are RFC 3339 instants (wall clock)."""
    h: dict[str, str] = {}
    if d.rpm:
        h["anthropic-ratelimit-requests-limit"] = str(d.rpm)
        h["anthropic-ratelimit-requests-remaining"] = str(d.remaining_requests)
        h["anthropic-ratelimit-requests-reset"] = rfc3339(wall_now + d.reset_requests)
    if d.tpm:
        limit, remaining = str(d.tpm), str(d.remaining_tokens)
        reset = rfc3339(wall_now + d.reset_tokens)
        # One token budget here; Anthropic reports input and output tokens separately too.
        for prefix in ("tokens", "input-tokens", "output-tokens"):
            h[f"anthropic-ratelimit-{prefix}-limit"] = limit
            h[f"anthropic-ratelimit-{prefix}-remaining"] = remaining
            h[f"anthropic-ratelimit-{prefix}-reset"] = reset
    return h
