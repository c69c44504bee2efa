"""A retry budget: retries may add at most a fixed share of load.

Per-request retry limits do not stop a retry storm: with 3 attempts each,
an outage triples the traffic aimed at a provider that is already down. A
budget caps retries across all calls to one provider instead (the design of
Finagle's ``RetryBudget`` and Envoy's retry budgets): over a rolling window,
retries may reach ``ratio`` of the calls made plus a small floor of
``min_per_second`` so that a quiet client can still retry at all.
"""

from __future__ import annotations

import math

from resilience._clock import Clock
from resilience._context import clock_of
from resilience._validate import number

__all__ = ["RetryBudget", "RollingCounts"]

_NEVER = -(2**62)


class RollingCounts:
    """Two counters over a rolling window of ``window`` seconds, kept in
    ``buckets`` slices so old counts fall off without storing every event.

    Counts are approximate at slice granularity, which is all a rate needs.
    """

    __slots__ = ("_a", "_b", "_slice", "_slots")

    def __init__(self, window: float, buckets: int = 10) -> None:
        self._slice = window / buckets
        # The absolute slice number each bucket currently holds.
        self._slots: list[int] = [_NEVER] * buckets
        self._a: list[int] = [0] * buckets
        self._b: list[int] = [0] * buckets

    def add(self, now: float, a: int = 0, b: int = 0) -> None:
        slot = math.floor(now / self._slice)
        slots = self._slots
        i = slot % len(slots)
        if slots[i] != slot:
            slots[i] = slot
            self._a[i] = 0
            self._b[i] = 0
        if a:
            self._a[i] += a
        if b:
            self._b[i] += b

    def totals(self, now: float) -> tuple[int, int]:
        """``(a, b)`` summed over the slices that are still inside the window."""
        oldest = math.floor(now / self._slice) - len(self._slots) + 1
        a = b = 0
        for slot, x, y in zip(self._slots, self._a, self._b, strict=True):
            if slot >= oldest:
                a += x
                b += y
        return a, b

    def clear(self) -> None:
        n = len(self._slots)
        self._slots = [_NEVER] * n
        self._a = [0] * n
        self._b = [0] * n


class RetryBudget:
    """Retries at most ``ratio`` of the calls made in the last ``window``
    seconds, plus ``min_per_second`` retries per second, per key (provider).

    ``RetryBudget(ratio=0.2, min_per_second=1.0, window=10.0)``: 1,000 calls
    in ten seconds may add 200 + 10 retries; during an outage of a provider
    that takes 50 calls per second, retries add at most ~11 requests per
    second to it instead of doubling its load.
    """

    __slots__ = ("_clock", "_counts", "min_per_second", "ratio", "window")

    def __init__(
        self,
        ratio: float = 0.2,
        *,
        min_per_second: float = 1.0,
        window: float = 10.0,
        clock: Clock | None = None,
    ) -> None:
        self.ratio = number("ratio", ratio, inclusive=True)
        self.min_per_second = number("min_per_second", min_per_second, inclusive=True)
        self.window = number("window", window)
        self._clock = clock
        # key -> counts of (calls, retries)
        self._counts: dict[str, RollingCounts] = {}

    def _now(self, now: float | None) -> float:
        return clock_of(self._clock).monotonic() if now is None else now

    def _of(self, key: str) -> RollingCounts:
        counts = self._counts.get(key)
        if counts is None:
            counts = self._counts[key] = RollingCounts(self.window)
        return counts

    def deposit(self, key: str, now: float | None = None) -> None:
        """Record one call (its first attempt) to ``key``."""
        counts = self._counts.get(key)
        if counts is None:
            counts = self._of(key)
        counts.add(clock_of(self._clock).monotonic() if now is None else now, 1)

    def available(self, key: str, now: float | None = None) -> float:
        """How many retries ``key`` may still make now."""
        calls, retries = self._of(key).totals(self._now(now))
        return self.ratio * calls + self.min_per_second * self.window - retries

    def withdraw(self, key: str, now: float | None = None) -> bool:
        """Take one retry from ``key``'s budget; False (and nothing taken)
        when the budget is spent."""
        t = self._now(now)
        if self.available(key, t) < 1.0:
            return False
        self._of(key).add(t, b=1)
        return True

    def __repr__(self) -> str:
        return (
            f"RetryBudget(ratio={self.ratio}, min_per_second={self.min_per_second}, "
            f"window={self.window})"
        )
