"""Token-bucket arithmetic in GCRA form: pure functions on plain numbers.

One dimension of a limit (requests, or tokens) is described by two numbers:

* ``interval``: seconds per unit (``60 / rpm``); 0 means the dimension is
  unlimited and every function here leaves it alone;
* ``capacity``: how many units may go out back to back (the bucket's size).

Its whole state is two floats: ``tat`` (GCRA's *theoretical arrival time*): the
moment the bucket is empty of debt again. ``(tat - now) / interval`` units are
"in the bucket" (recently spent and not yet drained). A call of ``n`` units is
admitted when they fit under ``capacity``; a call larger than the capacity is
admitted when the bucket is completely drained and then puts it in debt, so a
big prompt waits its turn instead of never fitting (the long-run rate is still
exact). The second float, ``shift``, adds up what refunds gave back (see
:func:`refund`).

Everything here is arithmetic on floats with no I/O and no objects, so that a
Redis Lua script can mirror each function line for line and a store can apply
one of them atomically.
"""

from __future__ import annotations

__all__ = [
    "MAX_DEBT",
    "admit",
    "charge",
    "fit_time",
    "level",
    "mark",
    "refund",
    "sync_remaining",
]

MAX_DEBT = 60.0
"""Seconds of the rate a bucket may owe at most. Providers count per minute,
so a minute's worth bounds any sane under-reservation; a garbage usage report
cannot freeze a key for longer."""


def level(tat: float, now: float, interval: float) -> float:
    """Units currently in the bucket (0 when it is drained)."""
    if interval <= 0.0 or tat <= now:
        return 0.0
    return (tat - now) / interval


def fit_time(tat: float, now: float, units: float, interval: float, capacity: float) -> float:
    """The earliest moment (>= ``now``) at which ``units`` may go out.

    They fit once the bucket has drained to ``capacity - units``; a call larger
    than the capacity waits for a fully drained bucket.
    """
    if interval <= 0.0 or units <= 0.0:
        return now
    base = tat if tat > now else now
    room = capacity - units
    start = base - room * interval if room > 0.0 else base
    return start if start > now else now


def admit(tat: float, start: float, units: float, interval: float) -> float:
    """``tat`` after ``units`` went out at ``start`` (a result of :func:`fit_time`)."""
    if interval <= 0.0:
        return tat
    base = tat if tat > start else start
    return base + units * interval


def refund(
    tat: float, shift: float, now: float, units: float, interval: float, mark: float
) -> tuple[float, float]:
    """``(tat, shift)`` after giving back ``units`` of a reservation.

    ``mark`` is the reservation's :func:`mark`: its drain end plus the
    ``shift`` at admission. ``shift`` adds up every refund; refunds made since
    this reservation was admitted may have moved its drain slot earlier, so its
    drain end is taken as ``mark - shift`` (never later than the truth).

    Only the part of the reservation that has not drained yet comes back, at
    most ``(drain_end - now) / interval`` units. That bound keeps later
    admissions safe: everything admitted after it keeps a drain slot at or
    after ``now``, never before its own admission.
    """
    if interval <= 0.0 or units <= 0.0:
        return tat, shift
    undrained = (mark - shift - now) / interval
    if undrained <= 0.0:
        return tat, shift
    back = (units if units < undrained else undrained) * interval
    return tat - back, shift + back


def mark(tat: float, shift: float) -> float:
    """What a reservation keeps for a later :func:`refund`: the ``tat`` right
    after its admission, in refund-shifted coordinates."""
    return tat + shift


def charge(tat: float, now: float, units: float, interval: float) -> float:
    """``tat`` after charging ``units`` more than were reserved (debt), capped
    at :data:`MAX_DEBT` seconds of the rate."""
    if interval <= 0.0 or units <= 0.0:
        return tat
    base = tat if tat > now else now
    new = base + units * interval
    cap = now + MAX_DEBT
    if new > cap:
        return cap if cap > tat else tat
    return new


def sync_remaining(
    tat: float, now: float, remaining: float, interval: float, capacity: float
) -> float:
    """``tat`` after the provider said only ``remaining`` units are left.

    Only ever makes the bucket fuller (more conservative): a response's count
    is already stale by the calls admitted since it was computed, so it may
    tell us we are over, never that we may go faster.
    """
    if interval <= 0.0 or remaining >= capacity:
        return tat
    floor = now + (capacity - max(0.0, remaining)) * interval
    return floor if floor > tat else tat
