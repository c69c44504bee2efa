"""GCRA arithmetic (resilience._store.gcra) and the in-memory store built on it."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from resilience._store import gcra as _bucket
from resilience._store.limiter import MemoryStore, Rates


def test_fit_time_paces_one_unit_per_interval_with_capacity_one() -> None:
    tat = 0.0
    starts = []
    now = 0.0
    for _ in range(4):
        start = _bucket.fit_time(tat, now, 1, 0.5, 1)
        starts.append(start)
        tat = _bucket.admit(tat, start, 1, 0.5)
    assert starts == [0.0, 0.5, 1.0, 1.5]


def test_capacity_lets_a_burst_through_then_paces() -> None:
    tat, now = 0.0, 0.0
    starts = []
    for _ in range(5):
        start = _bucket.fit_time(tat, now, 1, 1.0, 3)
        starts.append(start)
        tat = _bucket.admit(tat, start, 1, 1.0)
    assert starts == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_a_call_larger_than_the_capacity_waits_for_a_drained_bucket_then_overdraws() -> None:
    tat = _bucket.admit(0.0, 0.0, 2, 1.0)  # 2 units in, drained at t=2
    assert _bucket.fit_time(tat, 0.0, 10, 1.0, 3) == 2.0
    tat = _bucket.admit(tat, 2.0, 10, 1.0)
    assert tat == 12.0  # in debt: nothing else until t=12 - capacity + units
    assert _bucket.level(tat, 2.0, 1.0) == 10.0


def test_unlimited_dimension_is_left_alone() -> None:
    assert _bucket.fit_time(100.0, 1.0, 5, 0.0, 0) == 1.0
    assert _bucket.admit(7.0, 1.0, 5, 0.0) == 7.0
    assert _bucket.charge(7.0, 1.0, 5, 0.0) == 7.0
    assert _bucket.refund(7.0, 0.0, 1.0, 5, 0.0, 9.0) == (7.0, 0.0)
    assert _bucket.sync_remaining(7.0, 1.0, 0, 0.0, 1) == 7.0


def test_refund_returns_only_what_has_not_drained_yet() -> None:
    # 10 units at t=0, interval 1: drained at t=10. At t=4, 6 are still in.
    tat = _bucket.admit(0.0, 0.0, 10, 1.0)
    mark = _bucket.mark(tat, 0.0)
    new_tat, shift = _bucket.refund(tat, 0.0, 4.0, 9, 1.0, mark)
    assert new_tat == 4.0 and shift == 6.0
    # The same refund later, when everything drained, gives nothing back.
    assert _bucket.refund(tat, 0.0, 11.0, 9, 1.0, mark) == (tat, 0.0)


def test_refunds_since_admission_shrink_what_a_reservation_can_still_return() -> None:
    tat = _bucket.admit(0.0, 0.0, 5, 1.0)  # A: 0..5
    mark_a = _bucket.mark(tat, 0.0)
    tat = _bucket.admit(tat, 0.0, 5, 1.0)  # B: 5..10
    mark_b = _bucket.mark(tat, 0.0)
    tat, shift = _bucket.refund(tat, 0.0, 0.0, 5, 1.0, mark_a)  # A gives all back
    assert (tat, shift) == (5.0, 5.0)
    # B's slot moved to 0..5; at t=3 only 2 of its units are still undrained.
    tat, shift = _bucket.refund(tat, shift, 3.0, 5, 1.0, mark_b)
    assert (tat, shift) == (3.0, 7.0)


def test_charge_puts_the_bucket_in_debt_but_never_more_than_a_minute() -> None:
    assert _bucket.charge(0.0, 0.0, 5, 1.0) == 5.0
    assert _bucket.charge(0.0, 0.0, 10_000, 1.0) == _bucket.MAX_DEBT
    assert _bucket.charge(100.0, 0.0, 1, 1.0) == 100.0  # already past the cap: unchanged


def test_sync_only_ever_makes_the_bucket_fuller() -> None:
    assert _bucket.sync_remaining(0.0, 10.0, 0, 1.0, 3) == 13.0
    assert _bucket.sync_remaining(20.0, 10.0, 0, 1.0, 3) == 20.0
    assert _bucket.sync_remaining(0.0, 10.0, 5, 1.0, 3) == 0.0


# -- the store, driven directly: conformance over any window ---------------------------------


@st.composite
def schedules(draw: st.DrawFn) -> tuple[Rates, list[tuple[float, int, int, float]]]:
    interval = draw(st.sampled_from([0.01, 0.1, 1.0]))
    capacity = draw(st.sampled_from([0.0, 1.0, 50.0, 400.0]))
    rates = Rates(0.0, 1.0, interval, capacity)
    calls = draw(
        st.lists(
            st.tuples(
                st.floats(0, 5),  # arrival gap
                st.integers(1, 300),  # reserved
                st.integers(0, 300),  # used (clipped to reserved below)
                st.floats(0, 3),  # duration before the usage is known
            ),
            min_size=1,
            max_size=40,
        )
    )
    return rates, calls


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_store_admissions_never_exceed_rate_plus_capacity_over_any_window(
    case: tuple[Rates, list[tuple[float, int, int, float]]],
) -> None:
    """Token usage admitted (reserved, then reconciled down to what was really
    used) stays within ``window / interval + max(capacity, largest call in the
    window)`` over every window, even with refunds arriving while later calls
    are admitted."""
    rates, calls = case
    store = MemoryStore()
    interval, capacity = rates.token_interval, rates.token_capacity
    now = 0.0
    pending: list[tuple[float, float, float]] = []  # (settle time, refund, mark)
    events: list[tuple[float, int, int]] = []
    for gap, reserved, used, duration in calls:
        used = min(used, reserved)
        now += gap
        while True:
            # settle everything due before the next admission attempt
            for item in sorted(p for p in pending if p[0] <= now):
                pending.remove(item)
                store.adjust_now("k", item[0], -item[1], rates, item[2])
            grant = store.reserve_now("k", now, reserved, rates)
            if grant.admitted:
                break
            due = [p[0] for p in pending if p[0] < grant.start]
            now = min([grant.start, *due])
        events.append((now, used, reserved))
        pending.append((now + duration, float(reserved - used), grant.mark))
    for i, (start, _, _) in enumerate(events):
        total = 0
        largest = capacity
        for t, used, reserved in events[i:]:
            total += used
            largest = max(largest, reserved)
            bound = (t - start) / interval + largest
            assert total <= bound + 1e-6, (start, t, total, bound)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 2), st.integers(-500, 500)), max_size=30))
def test_reconciliation_never_leaves_a_bucket_in_debt_forever(
    adjustments: list[tuple[float, int]],
) -> None:
    """Whatever mix of charges and refunds, a minute (plus the last charge)
    after the last one the bucket admits a call at once again."""
    rates = Rates(0.0, 1.0, 0.05, 10.0)
    store = MemoryStore()
    now = 0.0
    for gap, delta in adjustments:
        now += gap
        grant = store.reserve_now("k", now, 1, rates)
        if grant.admitted:
            store.adjust_now("k", now, float(delta), rates, grant.mark)
    later = now + _bucket.MAX_DEBT + 1.0
    assert store.reserve_now("k", later, 5, rates).admitted
    _, tok_tat, _, _ = store.snapshot("k")
    assert math.isfinite(tok_tat)


def test_store_reports_what_holds_a_call_back() -> None:
    store = MemoryStore()
    rates = Rates(1.0, 1.0, 0.01, 0.0)
    assert store.reserve_now("k", 0.0, 100, rates).admitted
    grant = store.reserve_now("k", 0.0, 10, rates)
    assert not grant.admitted and grant.binding == "requests" and grant.start == 1.0
    store.hold_now("k", 5.0)
    grant = store.reserve_now("k", 0.0, 10, rates)
    assert grant.binding == "pushback" and grant.start == 5.0
    grant = store.reserve_now("k", 5.0, 1000, rates)
    assert grant.admitted
    grant = store.reserve_now("k", 6.0, 10, rates)
    assert grant.binding == "tokens" and grant.start == 15.0


def test_estimate_for_a_queued_call_counts_the_calls_ahead_and_takes_nothing() -> None:
    store = MemoryStore()
    rates = Rates(1.0, 1.0, 0.0, 0.0)
    grant = store.reserve_now("k", 0.0, 0, rates, ahead_requests=3)
    assert not grant.admitted and grant.start == 3.0
    assert store.snapshot("k")[0] == 0.0  # nothing reserved
