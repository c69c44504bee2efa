"""WindowEstimate: a stated limit's window comes from its numbers, never from its name."""

from __future__ import annotations

import pytest

from resilience._limiter.window import WindowEstimate


def test_openai_first_answer_reads_as_a_per_minute_budget() -> None:
    """3,000 requests, 2,999 left, full again in 20 ms: one request refills
    in 20 ms, so the budget spans a minute."""
    assert WindowEstimate().read(3000, 2999, 0.020) == 60.0


def test_groq_request_header_reads_as_a_per_day_budget() -> None:
    """Groq sends x-ratelimit-limit-requests for its daily budget: 14,400
    requests, one spent, full again in 6 s: a day."""
    assert WindowEstimate().read(14400, 14399, 6.0) == 86400.0


def test_groq_tokens_header_reads_as_per_minute() -> None:
    assert WindowEstimate().read(6000, 5800, 2.0) == 60.0


def test_a_budget_with_much_spent_reads_the_same() -> None:
    """The issue's case: 2,950 left of 3,000 after a burst; full again in 1 s."""
    assert WindowEstimate().read(3000, 2950, 1.0) == 60.0


@pytest.mark.parametrize(
    ("remaining", "reset", "why"),
    [
        (3000, 0.0, "nothing spent"),
        (None, 1.0, "no count"),
        (2999, None, "no reset"),
        (2999, 0.001, "a reset at the grain of the reading bounds nothing"),
    ],
)
def test_readings_that_cannot_tell_decide_nothing(
    remaining: int | None, reset: float | None, why: str
) -> None:
    assert WindowEstimate().read(3000, remaining, reset) is None, why


def test_a_loose_reading_that_fits_two_paces_decides_nothing() -> None:
    """One of 3,000 spent, full again in 2 ms: the true spend may be a tenth
    of a request, so ten seconds and a minute both fit."""
    assert WindowEstimate().read(3000, 2999, 0.002) is None


def test_whole_second_resets_of_a_second_decide_nothing() -> None:
    """Anthropic's instants have whole seconds: a reset '1 s' away after one
    request of 4,000 may be 15 ms, or 1.9 s."""
    assert WindowEstimate().read(4000, 3999, 1.0, coarse=True) is None


def test_whole_second_resets_decide_once_enough_is_spent() -> None:
    assert WindowEstimate().read(50, 40, 12.0, coarse=True) == 60.0


def test_readings_narrow_each_other_down() -> None:
    """A fine reading with a floored count: 2,999 left after 0.4 of a request
    (reset 8 ms) allows a minute only together with the first reading."""
    est = WindowEstimate()
    assert est.read(3000, 2999, 0.020) == 60.0
    assert est.read(3000, 2999, 0.008) == 60.0
    assert est.read(3000, 2998, 0.030) == 60.0


def test_one_odd_reading_is_ignored_and_several_start_over() -> None:
    """Made-up 429 headers ('0 left, full in 1 s' for a per-minute budget) do
    not undo what many readings showed; three in a row do."""
    est = WindowEstimate()
    assert est.read(600, 590, 1.0) == 60.0
    assert est.read(600, 0, 1.0) == 60.0
    assert est.read(600, 0, 1.0) == 60.0
    assert est.read(600, 0, 1.0) == 1.0


def test_a_changed_limit_starts_afresh() -> None:
    est = WindowEstimate()
    assert est.read(14400, 14399, 6.0) == 86400.0
    assert est.read(600, 590, 1.0) == 60.0


def test_an_assumed_window_holds_until_readings_contradict_it() -> None:
    est = WindowEstimate()
    est.assume(300, 60.0)
    assert est.read(300, 299, 1.0, coarse=True) == 60.0  # bounds nothing: keeps it
    assert est.window == 60.0
