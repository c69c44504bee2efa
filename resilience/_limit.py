"""Rate limits as configured (:class:`Limit`), and the live state of one key.

A key's limit in force is the tightest of three sources, per dimension:
what the user configured, what the provider's headers state
(``x-ratelimit-limit-*``, ``anthropic-ratelimit-*-limit``), and, for requests,
what :class:`~resilience._adaptive.AdaptiveRate` learned from throttles.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from resilience._adaptive import AdaptiveRate
from resilience._call import Call
from resilience._clock import TimerHandle
from resilience._errors import ConfigError
from resilience._limiter_store import Rates

__all__ = ["TOKEN_SPAN", "KeyStatus", "Limit"]

TOKEN_SPAN = 0.1
"""Seconds of the token rate the tokens bucket holds at least."""


def _rate(field: str, value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigError(field, value, "a finite number > 0, or None")
    return value


def _count(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, value, "an int >= 1, or None")
    return value


@dataclass(frozen=True, slots=True)
class Limit:
    """A provider limit: requests and tokens per minute, calls in flight.

    ``burst`` is how many requests may leave back to back before pacing
    starts (the requests bucket's size); the tokens bucket gets the same span
    of time, and at least a tenth of a second of ``tpm``. The default, 1,
    paces calls evenly, which is what providers that enforce a per-minute
    limit over one-second windows need. Any field left
    None is not limited (or, for a limiter with ``adaptive=True``, learned).
    """

    rpm: float | None = None
    tpm: float | None = None
    concurrency: int | None = None
    burst: int | None = None

    def __post_init__(self) -> None:
        _rate("rpm", self.rpm)
        _rate("tpm", self.tpm)
        _count("concurrency", self.concurrency)
        _count("burst", self.burst)
        if self.burst is not None and self.rpm is None:
            raise ConfigError("burst", self.burst, "rpm as well: burst counts requests")


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """What the limiter knows about one key, for introspection and tests.

    Rates are per minute as in force now (None: not limited); ``learned_rpm``
    is the adaptive rate (None: nothing learned); ``hold`` is the clock
    reading before which no call starts (pushback).
    """

    key: str
    rpm: float | None
    tpm: float | None
    configured: Limit | None
    stated_rpm: float | None
    stated_tpm: float | None
    learned_rpm: float | None
    in_flight: int
    queued: int
    waiting_for_slot: int
    hold: float


class Waiter:
    """One call queued for its turn (rate) or a slot (concurrency)."""

    __slots__ = ("call", "deadline", "error", "fut", "granted", "timer", "tokens")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, call: Call, tokens: float, deadline: float
    ) -> None:
        self.call = call
        self.tokens = tokens
        self.deadline = deadline  # clock reading past which it gives up
        self.fut: asyncio.Future[None] = loop.create_future()
        self.error: BaseException | None = None
        self.granted = False
        self.timer: TimerHandle | None = None

    def wake(self) -> None:
        if not self.fut.done():
            self.fut.set_result(None)

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.granted:
            self.error = error
        self.wake()


class KeyState:
    """The live state of one key, kept by the limiter (never shared)."""

    __slots__ = (
        "adaptive",
        "capacity",
        "due",
        "gated",
        "hold",
        "in_flight",
        "last_parse",
        "last_sent",
        "latency",
        "limit",
        "name",
        "probe_timer",
        "probing",
        "queue",
        "queued_tokens",
        "rates",
        "slot_waiters",
        "stated_rpm",
        "stated_tpm",
        "timer",
        "tpm",
        "window",
    )

    def __init__(self, name: str, limit: Limit | None, adaptive: AdaptiveRate | None) -> None:
        self.name = name
        self.limit = limit
        self.adaptive = adaptive
        self.stated_rpm: float | None = None
        self.stated_tpm: float | None = None
        # A key nobody configured starts in slow start: one call in flight,
        # one more per success. Its first answer usually states the limit, and
        # the callers queued behind it then never burst into a wall of 429s.
        self.probing = limit is None and adaptive is not None
        self.window = 1
        self.probe_timer: TimerHandle | None = None
        self.in_flight = 0
        self.slot_waiters: deque[Waiter] = deque()
        self.queue: deque[Waiter] = deque()
        self.queued_tokens = 0.0
        self.timer: TimerHandle | None = None
        self.due: float | None = None  # when the head's timer is set to fire
        self.hold = -math.inf
        self.latency = 0.0
        self.last_parse = -math.inf
        self.last_sent = -math.inf
        self.rates = Rates()
        self.tpm: float | None = None
        self.capacity: int | None = None
        self.gated = False
        self.recompute()

    def known_rps(self) -> float | None:
        """Requests per second configured or stated (not learned)."""
        rpm = _min(self.limit.rpm if self.limit else None, self.stated_rpm)
        return rpm / 60.0 if rpm is not None else None

    def recompute(self) -> bool:
        """Refresh the rates in force; True when they got looser."""
        old = self.rates
        rps = self.known_rps()
        learned = self.adaptive.rate if self.adaptive is not None else None
        rps = _min(rps, learned)
        req_interval = 1.0 / rps if rps else 0.0
        burst = float(self.limit.burst or 1) if self.limit is not None else 1.0
        self.tpm = _min(self.limit.tpm if self.limit else None, self.stated_tpm)
        tok_interval = 60.0 / self.tpm if self.tpm else 0.0
        tok_capacity = 0.0
        if tok_interval > 0.0:
            # Calls differ in size: a tokens bucket smaller than a big call would
            # make each call wait for the one before to drain completely.
            span = max(burst * req_interval, TOKEN_SPAN)
            tok_capacity = span / tok_interval
        self.rates = Rates(req_interval, burst, tok_interval, tok_capacity)
        conc = self.limit.concurrency if self.limit is not None else None
        self.capacity = _min_int(conc, self.window if self.probing else None)
        self.gated = self.capacity is not None
        return _looser(old.request_interval, req_interval) or _looser(
            old.token_interval, tok_interval
        )

    def status(self) -> KeyStatus:
        r = self.rates
        learned = self.adaptive.rate if self.adaptive is not None else None
        return KeyStatus(
            key=self.name,
            rpm=60.0 / r.request_interval if r.request_interval else None,
            tpm=self.tpm,
            configured=self.limit,
            stated_rpm=self.stated_rpm,
            stated_tpm=self.stated_tpm,
            learned_rpm=learned * 60.0 if learned is not None else None,
            in_flight=self.in_flight,
            queued=len(self.queue),
            waiting_for_slot=len(self.slot_waiters),
            hold=self.hold,
        )


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
