"""Provider-style rate limits: quantised to one-second windows, per key and model."""

from __future__ import annotations

import pytest

from resilience.testing._limits import RateLimits, format_duration


def test_a_burst_gets_one_seconds_share_not_the_whole_minute() -> None:
    limits = RateLimits(rpm=600, tpm=None)
    admitted = sum(limits.check("k", "m", 1, now=0.0).allowed for _ in range(600))
    assert admitted == 10


def test_quota_refills_at_limit_per_60_seconds() -> None:
    limits = RateLimits(rpm=60, tpm=None)
    assert limits.check("k", "m", 1, 0.0).allowed
    refused = limits.check("k", "m", 1, 0.5)
    assert not refused.allowed and refused.exceeded == "requests"
    assert refused.retry_after == pytest.approx(0.5)
    assert limits.check("k", "m", 1, 1.0).allowed


def test_sustained_rate_never_exceeds_the_minute_limit() -> None:
    limits = RateLimits(rpm=120, tpm=None)
    admitted = 0
    for step in range(6000):  # one attempt every 10 ms for a minute
        admitted += limits.check("k", "m", 1, step * 0.01).allowed
    assert 120 <= admitted <= 122


def test_keys_and_models_have_separate_buckets() -> None:
    limits = RateLimits(rpm=60, tpm=None)
    assert limits.check("a", "m", 1, 0.0).allowed
    assert limits.check("b", "m", 1, 0.0).allowed
    assert limits.check("a", "n", 1, 0.0).allowed
    assert not limits.check("a", "m", 1, 0.0).allowed


def test_tokens_limit_refuses_with_tokens_and_reports_remaining() -> None:
    limits = RateLimits(rpm=None, tpm=60_000)  # 1000 tokens per second
    first = limits.check("k", "m", 800, 0.0)
    assert first.allowed and first.remaining_tokens == 59_200
    second = limits.check("k", "m", 800, 0.0)
    assert not second.allowed and second.exceeded == "tokens" and second.requested == 800
    assert second.retry_after == pytest.approx(0.6)


def test_request_larger_than_a_second_is_admitted_when_the_window_is_full() -> None:
    limits = RateLimits(rpm=None, tpm=60_000)
    assert limits.check("k", "m", 5_000, 0.0).allowed  # goes into debt
    assert not limits.check("k", "m", 10, 1.0).allowed  # debt still being repaid


def test_request_over_the_whole_minute_limit_is_too_large() -> None:
    d = RateLimits(rpm=None, tpm=1000).check("k", "m", 5000, 0.0)
    assert not d.allowed and d.too_large


def test_uncharged_check_does_not_consume() -> None:
    limits = RateLimits(rpm=60, tpm=None)
    for _ in range(3):
        assert limits.check("k", "m", 1, 0.0, charge=False).allowed
    assert limits.check("k", "m", 1, 0.0).allowed


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.012, "12ms"), (1, "1s"), (2.5, "2.5s"), (360, "6m0s"), (61.5, "1m1.5s"), (0, "0s")],
)
def test_reset_durations_use_openai_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
