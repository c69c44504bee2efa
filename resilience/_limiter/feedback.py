"""What one key learns from the answers to its calls.

- Usage reconciles the token reservation (a refund lets the queue's head go
  sooner).
- Rate-limit headers state limits, whose window the numbers tell (see
  :mod:`resilience._limiter.window`); limits over a minute or less pace the
  key, and what they say is left resyncs the buckets.
- A 429 is *paced*: the key is slowed so that sending the call again through
  the queue is the right answer, not a retry with its own backoff. How it is
  slowed depends on what the headers say. A per-minute budget that ran dry
  was emptied by the resync and refills at its stated pace. A budget with
  plenty left means the provider counts over a shorter window (OpenAI
  enforces a per-minute limit per second): its bucket there is empty, so the
  key pauses long enough to build a little slack before pacing again.
  Without such headers the key holds for ``retry_after`` (for a key with a
  known pace no longer than its bucket takes to drain) and the adaptive rate
  learns from the throttle. A 429 asking for more than :data:`MAX_HOLD`, or
  one whose per-hour or per-day budget ran dry, is a quota by another name:
  the key holds, but the 429 is not paced.
- Slow start, for a key nothing is known about: a window of calls in flight
  that doubles per round trip, but at most every :data:`PROBE_DOUBLING`
  seconds, until a limit is stated, a throttle shows where it is, answers
  stop coming (:data:`PROBE_WAIT`) or the window is wide (:data:`PROBE_MAX`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from resilience._core.clock import Clock, TimerHandle
from resilience._core.failure import Failure, Kind
from resilience._core.headers import RateLimitInfo, parse_ratelimit_headers
from resilience._limiter.buckets import Buckets
from resilience._limiter.pace import Pace
from resilience._limiter.queue import LOCAL, SPILLED, KeyQueue
from resilience._limiter.window import PACE_WINDOW_MAX

__all__ = ["MAX_HOLD", "PROBE_DOUBLING", "PROBE_MAX", "PROBE_WAIT", "SLACK", "Feedback"]

MAX_HOLD = 60.0
"""Longest pushback that is paced; a longer ``retry_after`` is a quota (or
provider garbage), not a rate to follow."""

SLACK = 0.1
"""Seconds a key pauses after a 429 the provider counted over a shorter
window than the one it states, so its bucket there has room again."""

PROBE_WAIT = 2.0
"""Seconds without an answer after which slow start gives up (slow answers
say nothing about the limit)."""

PROBE_MAX = 64
"""Calls in flight at which slow start ends."""

PROBE_DOUBLING = 0.25
"""Seconds in which slow start's window may double at most (and at most once
per round trip, as TCP's does). Timed this way, a fast provider (30 ms a
call) is probed gently, so the burst that finds its limit is small, while a
slow one (seconds a call) still doubles every round trip."""

_LATENCY_WEIGHT = 0.2  # of the newest sample in the key's smoothed latency
_PARSE_EVERY = 0.1  # seconds: how often successes' headers are read once a limit is stated

Verdict = Callable[[float, float], None]
"""``(until, now)``: a hold was set; refuse the waiting calls it concerns."""


class Feedback:
    """Answers in, adjustments to the key's pace, buckets and queue out."""

    __slots__ = (
        "_buckets",
        "_on_hold",
        "_pace",
        "_queue",
        "hold",
        "last_parse",
        "last_sent",
        "latency",
        "probe_timer",
    )

    def __init__(self, pace: Pace, buckets: Buckets, queue: KeyQueue, on_hold: Verdict) -> None:
        self._pace = pace
        self._buckets = buckets
        self._queue = queue
        self._on_hold = on_hold
        self.hold = -math.inf
        self.latency = 0.0
        self.last_parse = -math.inf
        self.last_sent = -math.inf
        self.probe_timer: TimerHandle | None = None

    # -- sending -----------------------------------------------------------------------------

    def sent(self, clock: Clock, now: float) -> None:
        """A call of the key was admitted at ``now``."""
        self.last_sent = now
        pace = self._pace
        if pace.learner is not None:
            pace.learner.record_send(now)
        if pace.probing and self.probe_timer is None:
            self._arm_probe(clock, now)

    # -- outcomes ----------------------------------------------------------------------------

    def answered(self, clock: Clock, now: float, sent_at: float, ok: bool) -> None:
        """A call sent at ``sent_at`` got an answer (or none: ``ok`` False)."""
        took = now - sent_at
        self.latency += _LATENCY_WEIGHT * (took - self.latency)
        if self._pace.probing:
            self._probe_answered(clock, now, ok, took)

    def succeeded(
        self,
        now: float,
        sent_at: float,
        extra_tokens: float,
        mark: float,
        headers: Any | None,
        clock: Clock | None = None,
    ) -> None:
        """The call sent at ``sent_at`` succeeded; it used ``extra_tokens`` more
        than it reserved (negative: fewer). With ``clock``, this is also its
        answer (see :meth:`answered`)."""
        pace = self._pace
        if clock is not None:
            # answered(), inline: this runs once per successful call.
            self.latency += _LATENCY_WEIGHT * ((now - sent_at) - self.latency)
            if pace.probing:
                self._probe_answered(clock, now, True, now - sent_at)
        if extra_tokens:
            self._buckets.adjust(now, extra_tokens, pace.rates, mark, self._queue.wake)
        if headers is not None:
            self.read_headers(now, headers, force=False)
        learner = pace.learner
        if learner is not None and learner.rate is not None:
            learner.on_success(now, sent_at, pace.known_rps())
            self._recompute()

    def failed(
        self,
        now: float,
        sent_at: float,
        failure: Failure,
        headers: Any | None,
        tokens: float,
        refund: float,
        mark: float,
    ) -> bool:
        """The call failed with ``failure`` after reserving ``tokens``, of which
        ``refund`` come back (nothing was generated). Returns True when the
        failure was a 429 this key now paces (sending again goes through the
        queue at the new pace)."""
        if refund:
            self._buckets.adjust(now, -refund, self._pace.rates, mark, self._queue.wake)
        info = self.read_headers(now, headers, force=True) if headers is not None else None
        return self.throttled(now, sent_at, failure, info, tokens)

    def throttled(
        self,
        now: float,
        sent_at: float,
        failure: Failure,
        info: RateLimitInfo | None,
        tokens: float = 0.0,
    ) -> bool:
        """Slow the key down for a 429 (see the module docstring); True when paced."""
        if failure.kind is not Kind.RATE_LIMIT or failure.code in (LOCAL, SPILLED):
            return False
        self.end_probe()
        pace = self._pace
        retry_after = failure.retry_after
        dry = pace.budget_dry(info) if info is not None else None
        if dry is not None:
            self.set_hold(now + dry, now)
            return False
        if retry_after is not None and retry_after > MAX_HOLD:
            self.set_hold(now + MAX_HOLD, now)
            return False
        if _explains(pace, info, tokens):
            pass  # the resync emptied the dry bucket, which refills at the stated pace
        elif pace.rates.request_interval and _states_budget(pace, info):
            # Refused with budget left: the provider's bucket for a shorter window
            # is empty. Give up the burst, and pause long enough to leave it room.
            self._buckets.sync(now, pace.rates, 0.0, None)
            self.set_hold(now + max(pace.rates.request_interval, SLACK), now)
        elif retry_after is not None and retry_after > 0.0:
            wait = retry_after
            if pace.known_rps() is not None and pace.rates.request_interval:
                wait = min(wait, max(pace.drain_time(), SLACK))
            self.set_hold(now + wait, now)
        else:
            self.set_hold(now + max(pace.drain_time(), SLACK), now)
        learner = pace.learner
        if (
            learner is not None
            and not _states_requests_limit(pace, info)
            and learner.on_throttle(now, sent_at, pace.known_rps())
        ):
            self._recompute()
        return True

    # -- headers -----------------------------------------------------------------------------

    def read_headers(self, now: float, headers: Any, *, force: bool) -> RateLimitInfo | None:
        """Take the limits the headers state and resync the buckets; return
        what was parsed (None: nothing, or skipped)."""
        pace = self._pace
        # Parsing costs more than the rest of an admitted call; on successes,
        # ten times a second per key is plenty to follow a provider's counts.
        known = pace.stated_rps is not None or pace.stated_tps is not None
        if not force and known and now - self.last_parse < _PARSE_EVERY:
            return None
        self.last_parse = now
        info = parse_ratelimit_headers(headers)
        if info is None:
            return None
        was_unpaced = not pace.rates.request_interval
        if pace.read(info):
            self.end_probe()
            self._recompute()
        rates = pace.rates
        rr = _remaining(info.requests_remaining, pace.requests.window)
        tr = _remaining(info.tokens_remaining, pace.tokens.window)
        interval = rates.request_interval
        if was_unpaced and interval and now - self.last_sent < interval:
            # The requests sent while nothing was known count too: at least
            # the last one still occupies the bucket.
            rr = min(rr if rr is not None else rates.request_capacity, rates.request_capacity - 1)
        self._buckets.sync(now, rates, rr, tr)
        return info

    # -- holds and slow start ------------------------------------------------------------------

    def set_hold(self, until: float, now: float) -> None:
        """No call of the key starts before ``until``; waiting calls it
        concerns are refused (see the limiter's admission policy)."""
        if until <= self.hold:
            return
        self.hold = until
        self._buckets.hold(until)
        self._on_hold(until, now)

    def _probe_answered(self, clock: Clock, now: float, ok: bool, took: float) -> None:
        pace = self._pace
        if pace.known_rps() is not None or pace.tpm is not None:
            self.end_probe()
            return
        if ok:
            # A window's worth of answers per round trip: growing each by
            # 2**(rtt / PROBE_DOUBLING) - 1 grows the window that much per trip.
            pace.window += min(1.0, 2.0 ** (max(took, 0.0) / PROBE_DOUBLING) - 1.0)
            if pace.window >= PROBE_MAX:
                self.end_probe()
                return
            pace.recompute()
            self._queue.grant_slots()
        self._arm_probe(clock, now)

    def _arm_probe(self, clock: Clock, now: float) -> None:
        if self.probe_timer is not None:
            self.probe_timer.cancel()
        self.probe_timer = clock.call_at(now + PROBE_WAIT, self.end_probe)

    def end_probe(self) -> None:
        pace = self._pace
        if not pace.probing:
            return
        pace.probing = False
        if self.probe_timer is not None:
            self.probe_timer.cancel()
            self.probe_timer = None
        self._recompute()
        self._queue.grant_slots()

    def _recompute(self) -> None:
        if self._pace.recompute():
            self._queue.wake()


def _remaining(remaining: int | None, window: float | None) -> float | None:
    """What is left of a budget the buckets follow (those over a minute or less)."""
    if remaining is None or window is None or window > PACE_WINDOW_MAX:
        return None
    return float(remaining)


def _paced(window: float | None) -> bool:
    return window is not None and window <= PACE_WINDOW_MAX


def _states_budget(pace: Pace, info: RateLimitInfo | None) -> bool:
    """Whether headers state a budget the key is paced by, and what is left of it."""
    if info is None:
        return False
    return bool(
        info.requests_limit and info.requests_remaining is not None and _paced(pace.requests.window)
    ) or bool(
        info.tokens_limit and info.tokens_remaining is not None and _paced(pace.tokens.window)
    )


def _states_requests_limit(pace: Pace, info: RateLimitInfo | None) -> bool:
    """Whether headers state a request limit the key is paced by (a stated
    limit takes precedence over learning)."""
    return info is not None and bool(info.requests_limit) and _paced(pace.requests.window)


def _explains(pace: Pace, info: RateLimitInfo | None, tokens: float) -> bool:
    """Whether the headers of a 429 name a paced budget of the key that ran
    dry (no request left, or fewer tokens left than the call needed)."""
    if info is None:
        return False
    rates = pace.rates
    if (
        rates.request_interval
        and info.requests_remaining is not None
        and info.requests_remaining <= 0
        and _paced(pace.requests.window)
    ):
        return True
    return bool(
        rates.token_interval
        and info.tokens_remaining is not None
        and info.tokens_remaining < max(tokens, 1.0)
        and _paced(pace.tokens.window)
    )
