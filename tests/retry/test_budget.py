"""The retry budget and the rolling counters under it."""

from __future__ import annotations

import pytest

from resilience import FakeClock
from resilience._core.errors import ConfigError
from resilience._core.rolling import RollingCounts
from resilience._retry import RetryBudget


def test_rolling_counts_forget_what_left_the_window() -> None:
    counts = RollingCounts(10.0)
    counts.add(0.5, a=3, b=1)
    counts.add(5.0, a=2)
    assert counts.totals(9.9) == (5, 1)
    assert counts.totals(10.5) == (2, 0)  # the slice [0, 1) left the window
    assert counts.totals(16.0) == (0, 0)
    counts.add(16.0, b=4)
    assert counts.totals(16.0) == (0, 4)
    counts.clear()
    assert counts.totals(16.0) == (0, 0)


def test_rolling_counts_reuse_a_slot_only_for_its_own_slice() -> None:
    """A bucket coming round again after a full window starts from zero."""
    counts = RollingCounts(1.0, buckets=4)
    counts.add(0.1, a=7)
    counts.add(1.1, a=1)  # same bucket index, next lap
    assert counts.totals(1.1) == (1, 0)


def test_floor_allows_min_per_second_times_window_retries_without_calls() -> None:
    budget = RetryBudget(0.2, min_per_second=1.0, window=10.0)
    taken = sum(budget.withdraw("p", now=0.0) for _ in range(50))
    assert taken == 10


def test_retries_are_capped_at_the_ratio_of_calls_plus_the_floor() -> None:
    budget = RetryBudget(0.2, min_per_second=1.0, window=10.0)
    for _ in range(1000):
        budget.deposit("p", now=1.0)
    taken = sum(budget.withdraw("p", now=1.0) for _ in range(1000))
    assert taken == 210


def test_budgets_are_per_key() -> None:
    budget = RetryBudget(0.0, min_per_second=0.1, window=10.0)
    assert budget.withdraw("a", now=0.0)
    assert not budget.withdraw("a", now=0.0)
    assert budget.withdraw("b", now=0.0)


def test_spent_budget_refills_as_the_window_moves() -> None:
    budget = RetryBudget(0.0, min_per_second=0.5, window=4.0)
    assert [budget.withdraw("p", now=0.0) for _ in range(3)] == [True, True, False]
    assert not budget.withdraw("p", now=3.0)
    assert budget.withdraw("p", now=4.5)
    assert budget.available("p", now=4.5) == pytest.approx(1.0)  # the two at t=0 expired


async def test_budget_reads_the_injected_clock(clock: FakeClock) -> None:
    budget = RetryBudget(0.0, min_per_second=0.1, window=10.0, clock=clock)
    assert budget.withdraw("p")
    assert not budget.withdraw("p")
    await clock.advance(11.0)
    assert budget.withdraw("p")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("ratio", {"ratio": -0.1}),
        ("ratio", {"ratio": float("nan")}),
        ("min_per_second", {"min_per_second": -1}),
        ("window", {"window": 0}),
        ("window", {"window": True}),
    ],
)
def test_bad_settings_are_config_errors(field: str, kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError) as info:
        RetryBudget(**kwargs)
    assert info.value.field == field
