"""Rate limits as configured (:class:`Limit`), and what the limiter knows of a key."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from resilience._core.errors import ConfigError

__all__ = ["KeyStatus", "Limit"]


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

    Rates are per minute as in force now (None: not limited). ``stated_*``
    are the provider's own limits, converted to per minute from the window
    their headers' numbers imply (None: none stated, or its window is not
    known yet); ``learned_rpm`` is the adaptive rate (None: nothing learned);
    ``hold`` is the clock reading before which no call starts (pushback).
    ``probing``: the key is in slow start (nothing known about its limit yet).
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
    probing: bool = False
