"""The limit in force for one key, per dimension.

Three sources, the tightest winning: what the user configured
(:class:`~resilience.Limit`), what the provider's headers state (limits
over a window of a minute or less, the window read from the numbers by
:class:`~resilience._limiter.window.WindowEstimate`), and, for requests, the
rate :class:`~resilience._limiter.adaptive.AdaptiveRate` learned from
throttles. A key that nobody configured starts in slow start (TCP's): a
window of calls in flight that grows with each answer until a limit is
known; while nothing else limits the key, that window is its only limit.
"""

from __future__ import annotations

from resilience._core.headers import RateLimitInfo
from resilience._limiter.adaptive import AdaptiveRate
from resilience._limiter.limit import Limit
from resilience._limiter.window import PACE_WINDOW_MAX, WindowEstimate
from resilience._store.limiter import Rates

__all__ = ["TOKEN_SPAN", "Pace"]

TOKEN_SPAN = 0.1
"""Seconds of the token rate the tokens bucket holds at least."""


class Pace:
    """What limits one key now, as bucket parameters and a slot count."""

    __slots__ = (
        "capacity",
        "learner",
        "limit",
        "probing",
        "rates",
        "requests",
        "stated_rps",
        "stated_tps",
        "tokens",
        "tpm",
        "window",
    )

    def __init__(self, limit: Limit | None, learner: AdaptiveRate | None) -> None:
        self.limit = limit
        self.learner = learner
        self.requests = WindowEstimate()
        self.tokens = WindowEstimate()
        self.stated_rps: float | None = None
        self.stated_tps: float | None = None
        self.probing = limit is None and learner is not None
        self.window = 1.0  # slow start's calls in flight
        self.rates = Rates()
        self.tpm: float | None = None
        self.capacity: int | None = None
        self.recompute()

    @property
    def gated(self) -> bool:
        """Whether calls need a slot (a concurrency cap or slow start)."""
        return self.capacity is not None

    def known_rps(self) -> float | None:
        """Requests per second configured or stated (not learned)."""
        configured = self.limit.rpm / 60.0 if self.limit is not None and self.limit.rpm else None
        return _min(configured, self.stated_rps)

    def read(self, info: RateLimitInfo) -> bool:
        """Take the limits a response's headers state; True when what is
        stated changed. Only limits over windows a pace can follow count."""
        coarse = info.coarse_resets
        limit = self.limit
        if limit is not None:
            # A stated limit equal to the one configured per minute is that one.
            if limit.rpm is not None and info.requests_limit == limit.rpm:
                self.requests.assume(info.requests_limit, 60.0)
            if limit.tpm is not None and info.tokens_limit == limit.tpm:
                self.tokens.assume(info.tokens_limit, 60.0)
        rw = self.requests.read(
            info.requests_limit, info.requests_remaining, info.requests_reset, coarse
        )
        tw = self.tokens.read(info.tokens_limit, info.tokens_remaining, info.tokens_reset, coarse)
        rps = (
            info.requests_limit / rw
            if rw and rw <= PACE_WINDOW_MAX and info.requests_limit
            else None
        )
        tps = info.tokens_limit / tw if tw and tw <= PACE_WINDOW_MAX and info.tokens_limit else None
        if rps is None and rw is None:
            rps = self.stated_rps  # undecided: keep what an earlier reading decided
        if tps is None and tw is None:
            tps = self.stated_tps
        changed = rps != self.stated_rps or tps != self.stated_tps
        self.stated_rps, self.stated_tps = rps, tps
        return changed

    def budget_dry(self, info: RateLimitInfo) -> float | None:
        """Seconds until a stated budget over a long window (per hour, per
        day) that ran dry has room again; None when none ran dry."""
        longest = None
        for est, remaining, reset in (
            (self.requests, info.requests_remaining, info.requests_reset),
            (self.tokens, info.tokens_remaining, info.tokens_reset),
        ):
            w = est.window
            if w is not None and w > PACE_WINDOW_MAX and remaining == 0 and reset:
                longest = reset if longest is None else max(longest, reset)
        return longest

    def recompute(self) -> bool:
        """Refresh the rates in force; True when they got looser."""
        old = self.rates
        rps = self.known_rps()
        learned = self.learner.rate if self.learner is not None else None
        rps = _min(rps, learned)
        req_interval = 1.0 / rps if rps else 0.0
        limit = self.limit
        burst = float(limit.burst or 1) if limit is not None else 1.0
        configured_tpm = limit.tpm if limit is not None else None
        stated_tpm = self.stated_tps * 60.0 if self.stated_tps else None
        self.tpm = _min(configured_tpm, stated_tpm)
        tok_interval = 60.0 / self.tpm if self.tpm else 0.0
        tok_capacity = 0.0
        if tok_interval > 0.0:
            # Calls differ in size: a tokens bucket smaller than a big call would
            # make each call wait for the one before to drain completely.
            span = max(burst * req_interval, TOKEN_SPAN)
            tok_capacity = span / tok_interval
        self.rates = Rates(req_interval, burst, tok_interval, tok_capacity)
        conc = limit.concurrency if limit is not None else None
        self.capacity = _min_int(conc, int(self.window) if self.probing else None)
        return _looser(old.request_interval, req_interval) or _looser(
            old.token_interval, tok_interval
        )

    def drain_time(self) -> float:
        """Seconds the requests bucket takes to drain when full (0: unpaced)."""
        return self.rates.request_capacity * self.rates.request_interval


def _min(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a < b else b


def _min_int(a: int | None, b: int | None) -> int | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a < b else b


def _looser(old: float, new: float) -> bool:
    """Intervals: 0 is unlimited, so a smaller non-zero interval or a drop to 0 is looser."""
    if old == 0.0:
        return False
    return new == 0.0 or new < old
