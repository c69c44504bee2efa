"""What a rate-limit header's numbers say about its window.

Header names do not say what period a limit covers: OpenAI's
``x-ratelimit-limit-requests`` is a per-minute budget while Groq sends the
same name for a per-day one (and its tokens header per minute). The numbers
do. The providers that send these headers refill their budgets continuously
(a token bucket), and ``reset`` is the time until the budget is full again,
so a budget that refills at ``r`` units a second shows ``reset = spent / r``
with ``spent = limit - remaining``, and spans ``limit / r`` seconds.

Each reading is rounded: ``remaining`` is a whole count (the true amount
spent is up to one unit less), ``reset`` is given to the millisecond
(OpenAI's durations) or to the whole second (Anthropic's instants). So a
reading gives a range of refill rates, not one; :class:`WindowEstimate`
intersects the ranges of successive readings and settles on the shortest
usual window (a second, ten seconds, a minute, an hour, a day) the range
allows, as long as it allows only one window short enough to pace by. A
reading that bounds nothing (a whole-second reset of one second or less)
decides nothing; an isolated one that contradicts the others is ignored,
and several in a row (the limit changed) start the range afresh.
"""

from __future__ import annotations

import math

__all__ = ["PACE_WINDOW_MAX", "WINDOWS", "WindowEstimate"]

WINDOWS = (1.0, 10.0, 60.0, 3600.0, 86400.0)
"""The windows providers state limits over, in seconds."""

PACE_WINDOW_MAX = 60.0
"""Limits over windows up to this long are paced; longer ones (per hour, per
day) are budgets: they say nothing about pace, only when the key runs dry."""

_FINE = 0.001  # seconds: the grain of a Go-style duration ("1.25s", "17ms")
_COARSE = 1.0  # seconds: the grain of an instant given to the whole second
_SLACK = 1.25  # counts move a little between the provider's own readings


_CONTRADICTIONS = 3  # readings in a row that contradict the range before it starts over


class WindowEstimate:
    """The window of one stated limit, from every reading of it so far."""

    __slots__ = ("_odd", "high", "limit", "low", "window")

    def __init__(self) -> None:
        self.limit = 0
        self.low = 0.0  # refill rate range, units per second
        self.high = math.inf
        self.window: float | None = None
        self._odd = 0  # contradicting readings in a row

    def assume(self, limit: int, window: float) -> None:
        """Take ``window`` for ``limit`` until readings prove otherwise (the
        user configured this very limit per minute, say)."""
        if self.window is None or limit != self.limit:
            rate = limit / window
            self.limit, self.low, self.high, self.window = limit, rate, rate, window
            self._odd = 0

    def read(
        self, limit: int | None, remaining: int | None, reset: float | None, coarse: bool = False
    ) -> float | None:
        """Fold in one reading; return the window now believed (None: unknown)."""
        if not limit or limit <= 0 or remaining is None or reset is None or reset < 0:
            return self.window
        if limit != self.limit:
            self.limit, self.low, self.high, self.window = limit, 0.0, math.inf, None
        spent = limit - remaining
        if spent <= 0:
            return self.window  # a full budget: no rate shows
        grain = _COARSE if coarse else _FINE
        low = (spent - 1) / (reset + grain)
        high = spent / (reset - grain) if reset > grain else math.inf
        if high == math.inf and self.high == math.inf:
            return self.window  # nothing bounded yet
        new_low, new_high = max(self.low, low), min(self.high, high)
        if new_low > new_high * _SLACK * _SLACK:
            # Contradicts what came before. One odd reading is noise (a provider's
            # made-up 429 headers, say); several in a row mean the limit changed.
            self._odd += 1
            if self._odd < _CONTRADICTIONS:
                return self.window
            new_low, new_high = low, high
        self._odd = 0
        self.low, self.high = new_low, new_high
        self.window = self._decide()
        return self.window

    def _decide(self) -> float | None:
        if self.high == math.inf:
            return None
        fits = [w for w in WINDOWS if self.low / _SLACK <= self.limit / w <= self.high * _SLACK]
        paced = [w for w in fits if w <= PACE_WINDOW_MAX]
        if len(paced) > 1:
            return None  # too loose a range to choose a pace from
        return fits[0] if fits else None

    def __repr__(self) -> str:
        return f"WindowEstimate(limit={self.limit}, window={self.window})"
