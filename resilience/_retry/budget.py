"""A retry budget: retries may add at most a fixed share of load.

Per-request retry limits do not stop a retry storm: with 3 attempts each,
an outage triples the traffic aimed at a provider that is already down. A
budget caps retries across all calls to one provider instead (the design of
Finagle's ``RetryBudget`` and Envoy's retry budgets): over a rolling window,
retries may reach ``ratio`` of the calls made plus a small floor of
``min_per_second`` so that a quiet client can still retry at all.
"""

from __future__ import annotations

from resilience._core.clock import Clock
from resilience._core.context import clock_of
from resilience._core.rolling import RollingCounts
from resilience._core.validate import number

__all__ = ["RetryBudget"]


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
