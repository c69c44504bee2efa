"""CUBIC rate learning (resilience._limiter.adaptive): botocore's design, one cut per round trip."""

from __future__ import annotations

import heapq

import pytest

from resilience import ConfigError
from resilience._limiter.adaptive import AdaptiveRate


def _send_steady(learner: AdaptiveRate, rate: float, start: float, seconds: float) -> float:
    t = start
    while t < start + seconds:
        learner.record_send(t)
        t += 1.0 / rate
    return t


def test_nothing_is_learned_before_the_first_throttle() -> None:
    learner = AdaptiveRate()
    _send_steady(learner, 20.0, 0.0, 3.0)
    assert learner.rate is None
    assert learner.on_success(3.0) is None
    assert 15.0 < learner.measured(3.0) < 25.0


def test_first_throttle_cuts_to_beta_times_the_measured_send_rate() -> None:
    learner = AdaptiveRate()
    t = _send_steady(learner, 40.0, 0.0, 5.0)
    assert learner.on_throttle(t, sent_at=t - 0.1)
    assert learner.rate == pytest.approx(0.7 * learner.measured(t), rel=0.01)
    assert 0.7 * 35 < learner.rate < 0.7 * 45


def test_throttles_of_requests_sent_before_the_cut_do_not_cut_again() -> None:
    learner = AdaptiveRate()
    t = _send_steady(learner, 40.0, 0.0, 5.0)
    assert learner.on_throttle(t, sent_at=t - 0.2)
    after_first = learner.rate
    # 100 more 429s for requests that were already in flight: no news.
    for i in range(100):
        assert not learner.on_throttle(t + 0.01 * i, sent_at=t - 0.1)
    assert learner.rate == after_first
    # A request sent after the cut and throttled again: a real second cut.
    assert learner.on_throttle(t + 2.0, sent_at=t + 1.0)
    assert learner.rate is not None and after_first is not None
    assert learner.rate < after_first


def test_rate_grows_back_along_the_cubic_to_the_old_maximum_after_k_seconds() -> None:
    learner = AdaptiveRate()
    t = _send_steady(learner, 50.0, 0.0, 5.0)
    learner.on_throttle(t, sent_at=t)
    w_max = learner.rate / 0.7 if learner.rate else 0.0
    k = (w_max * 0.3 / 0.4) ** (1 / 3)
    # Keep sending at whatever rate is learned so the 2x-measured cap does not bind.
    now = t
    while now < t + k:
        assert learner.rate is not None
        learner.record_send(now)
        learner.on_success(now)
        now += 1.0 / learner.rate
    assert learner.rate == pytest.approx(w_max, rel=0.05)
    # Past K it keeps growing: CUBIC probes for more.
    for _ in range(200):
        learner.record_send(now)
        learner.on_success(now)
        now += 1.0 / learner.rate
    assert learner.rate > w_max


def test_rate_never_exceeds_twice_the_measured_send_rate() -> None:
    learner = AdaptiveRate()
    t = _send_steady(learner, 10.0, 0.0, 5.0)
    learner.on_throttle(t, sent_at=t)
    # Callers only send 2/s from now on; after a long quiet growth period the
    # learned rate is still bounded by 2x what is actually sent.
    now = t
    for _ in range(40):
        now += 0.5
        learner.record_send(now)
        learner.on_success(now)
    assert learner.rate is not None
    assert learner.rate <= 2.0 * learner.measured(now) + 1e-9


def test_a_known_limit_is_trusted_until_throttles_keep_coming() -> None:
    learner = AdaptiveRate(persist=3, window=30.0)
    t = _send_steady(learner, 50.0, 0.0, 5.0)
    assert not learner.on_throttle(t, sent_at=t, known=50.0)
    assert not learner.on_throttle(t + 1, sent_at=t + 1, known=50.0)
    assert learner.rate is None
    assert learner.on_throttle(t + 2, sent_at=t + 2, known=50.0)
    assert learner.rate is not None and learner.rate <= 0.7 * 50.0 + 1e-9


def test_isolated_throttles_under_a_known_limit_never_engage_learning() -> None:
    learner = AdaptiveRate(persist=3, window=30.0)
    t = _send_steady(learner, 50.0, 0.0, 5.0)
    for i in range(10):
        learner.on_throttle(t + 20.0 * i, sent_at=t + 20.0 * i, known=50.0)
    assert learner.rate is None


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("beta", {"beta": 1.5}),
        ("scale", {"scale": 0}),
        ("smoothing", {"smoothing": 2.0}),
        ("persist", {"persist": 0}),
        ("min_rate", {"min_rate": float("nan")}),
    ],
)
def test_bad_settings_name_the_field(field: str, kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError) as info:
        AdaptiveRate(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_learning_settles_near_a_true_limit_under_a_simulated_provider() -> None:
    """A provider that admits 10 requests/s (a one-second bucket, like real
    ones) and callers that would send 100/s: once learning starts, the
    accepted rate settles near 10/s and 429s stay a small share of sends."""
    true_rate, offered, rtt = 10.0, 100.0, 0.3
    learner = AdaptiveRate()
    bucket, stamp = true_rate, 0.0
    sent = ok = throttled = 0
    responses: list[tuple[float, float, bool]] = []  # (time, sent_at, throttled)
    now, next_send = 0.0, 0.0
    ok_after_warmup = 0
    while now < 120.0:
        while responses and responses[0][0] <= next_send:
            t, sent_at, was_throttled = heapq.heappop(responses)
            if was_throttled:
                learner.on_throttle(t, sent_at)
            else:
                learner.on_success(t)
        now = next_send
        bucket = min(true_rate, bucket + (now - stamp) * true_rate)
        stamp = now
        learner.record_send(now)
        sent += 1
        if bucket >= 1.0:
            bucket -= 1.0
            ok += 1
            ok_after_warmup += now >= 20.0
            heapq.heappush(responses, (now + rtt, now, False))
        else:
            throttled += 1
            heapq.heappush(responses, (now + rtt, now, True))
        rate = learner.rate if learner.rate is not None else offered
        next_send = now + 1.0 / min(rate, offered)
    goodput = ok_after_warmup / 100.0
    assert 0.75 * true_rate <= goodput <= 1.01 * true_rate
    assert throttled / sent < 0.15


def test_an_idle_gap_does_not_drag_the_measured_rate_down() -> None:
    """Sends stop for 10 s (a breaker open upstream): when they resume, the
    2x cap still reflects the rate sent while there was demand."""
    learner = AdaptiveRate()
    t = _send_steady(learner, 10.0, 0.0, 5.0)
    learner.on_throttle(t, sent_at=t)
    t += 10.0
    learner.record_send(t)
    learner.record_send(t + 0.6)
    assert learner.measured(t + 0.6) > 5.0
    assert learner.on_success(t + 0.6) is not None
    assert learner.rate is not None and learner.rate > 5.0


def test_learning_lets_go_once_the_cubic_is_back_at_the_known_limit() -> None:
    """Learned down from a known 10/s, the rate grows back; at 10/s the
    learner disengages so the configured limit rules again."""
    learner = AdaptiveRate(persist=1)
    t = _send_steady(learner, 10.0, 0.0, 5.0)
    assert learner.on_throttle(t, sent_at=t, known=10.0)
    assert learner.rate is not None and learner.rate < 10.0
    now = t
    while learner.rate is not None and now < t + 120.0:
        learner.record_send(now)
        learner.on_success(now, known=10.0)
        now += 1.0 / (learner.rate or 10.0)
    assert learner.rate is None and now < t + 60.0
