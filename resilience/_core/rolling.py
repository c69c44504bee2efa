"""Counts over a rolling window of time, kept in slices.

The retry budget counts calls and retries with it, the circuit breaker calls
and failures: each needs a rate over the last seconds without storing every
event.
"""

from __future__ import annotations

import math

__all__ = ["RollingCounts"]

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
