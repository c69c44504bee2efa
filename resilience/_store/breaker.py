"""Where circuit-breaker state lives: the seam for sharing it between
processes.

A :class:`BreakerRecord` is one key's state, with the names of pybreaker's
``CircuitBreakerStorage`` contract (``state``, ``counter``,
``success_counter``, ``opened_at``, ``increment_counter()``, ...) plus what
a growing open time needs (``open_until``, ``trips``, ``closed_at``).

The breaker reads and writes records synchronously on the event loop: an
admission decision must not wait for I/O. A shared store (Redis) therefore
keeps a local record per key as a cache, publishes the breaker's changes
from :meth:`BreakerStore.saved` without blocking (a background task), and
writes what other processes published into the local records. The breaker
notices a state it did not set and takes it over (see
``CircuitBreaker._sync``).

Times in a record are on the breaker's clock (monotonic, process-local).
``saved(key, record, now)`` passes the breaker's ``now``, so a shared store
publishes durations (``record.open_until - now``) rather than instants, and
converts back with its own ``now`` when it fills a local record.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

__all__ = [
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "BreakerRecord",
    "BreakerStore",
    "MemoryBreakerStore",
]

# pybreaker's state names, so records are interchangeable with its storages.
STATE_CLOSED = "closed"
STATE_OPEN = "open"
STATE_HALF_OPEN = "half-open"
STATES = frozenset({STATE_CLOSED, STATE_OPEN, STATE_HALF_OPEN})


class BreakerRecord:
    """The shareable state of one breaker key.

    ``counter`` is the run of consecutive failures; ``success_counter`` the
    successful probes since the circuit went half-open; ``opened_at`` and
    ``open_until`` bound the current open period; ``trips`` counts trips in a
    row (the open time grows with it); ``closed_at`` is when the circuit last
    closed.
    """

    __slots__ = (
        "closed_at",
        "counter",
        "open_until",
        "opened_at",
        "state",
        "success_counter",
        "trips",
    )

    def __init__(self, state: str = STATE_CLOSED) -> None:
        self.state = state
        self.counter = 0
        self.success_counter = 0
        self.opened_at: float | None = None
        self.open_until = 0.0
        self.trips = 0
        self.closed_at = -float("inf")

    # pybreaker's method names
    def increment_counter(self) -> None:
        self.counter += 1

    def reset_counter(self) -> None:
        self.counter = 0

    def increment_success_counter(self) -> None:
        self.success_counter += 1

    def reset_success_counter(self) -> None:
        self.success_counter = 0

    def __repr__(self) -> str:
        return (
            f"BreakerRecord(state={self.state!r}, counter={self.counter}, "
            f"success_counter={self.success_counter}, trips={self.trips}, "
            f"open_until={self.open_until!r})"
        )


@runtime_checkable
class BreakerStore(Protocol):
    """Storage for breaker records, keyed by ``provider`` or
    ``provider/model``. Every method is called on the event loop and must
    return at once."""

    def record(self, key: str) -> BreakerRecord:
        """The record for ``key``, created closed on first use."""
        ...

    def saved(self, key: str, record: BreakerRecord, now: float) -> None:
        """``record`` changed state (opened, went half-open or closed) at
        ``now`` on the breaker's clock. A shared store publishes it here."""
        ...


class MemoryBreakerStore:
    """The default store: records in a dict, private to this process."""

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: dict[str, BreakerRecord] = {}

    def record(self, key: str) -> BreakerRecord:
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = BreakerRecord()
        return rec

    def saved(self, key: str, record: BreakerRecord, now: float) -> None:
        # The records are the storage; nothing to publish.
        return None

    def keys(self) -> Iterator[str]:
        return iter(list(self._records))

    def __repr__(self) -> str:
        return f"MemoryBreakerStore({len(self._records)} keys)"
