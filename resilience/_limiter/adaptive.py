"""Learning a provider's request rate from its throttles: CUBIC, the botocore way.

botocore's adaptive retry mode is the reference design: a CUBIC window over
the request rate (cut to ``beta`` = 0.7 of the rate in force on a throttle,
then growing along ``scale * (t - K)**3 + W_max``, ``scale`` = 0.4), never
above twice the measured send rate, which is smoothed over half-second
buckets. botocore blocks the calling thread in its token bucket; here the
learner is plain arithmetic on clock readings and the limiter does the
waiting on the event loop.

Three changes for LLM traffic, where hundreds of calls are in flight at once
and a round trip takes seconds rather than milliseconds:

* one cut per round trip, as TCP does: a throttle of a request sent before
  the last cut carries no news (that request left at the old rate) and does
  not cut again, so a burst of 429s does not collapse the rate to nothing;
* a key whose limit is known (configured, or stated by the provider's
  headers) trusts that limit and only starts learning when throttles keep
  coming anyway: ``persist`` distinct cuts within ``window`` seconds;
* the cubic's return to the old maximum (``K``) takes at least ``rtts``
  smoothed round trips (the curve is stretched, keeping the cut at ``beta``):
  botocore's ``K`` is about a second at 1 request/s, shorter than one LLM
  call, so the rate would overshoot again before the cut could show;
* the send rate is measured only while there is demand (an idle gap restarts
  the count), and once the cubic is back at a known limit learning lets go:
  a breaker's open period does not drag a configured limit down.
"""

from __future__ import annotations

import math

from resilience._core.errors import ConfigError

__all__ = ["AdaptiveRate"]


def _positive(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(field, value, "a number > 0")
    if not math.isfinite(value):
        raise ConfigError(field, value, "a finite number > 0")
    return float(value)


class AdaptiveRate:
    """A request rate (per second) learned with CUBIC; ``rate`` is None until
    the first throttle that engages it (no limit learned yet)."""

    __slots__ = (
        "_bucket",
        "_count",
        "_k",
        "_last_bucket",
        "_last_cut",
        "_measured",
        "_recent",
        "_rtt",
        "_scale",
        "_w_max",
        "beta",
        "min_rate",
        "persist",
        "rate",
        "rtts",
        "scale",
        "smoothing",
        "window",
    )

    def __init__(
        self,
        *,
        beta: float = 0.7,
        scale: float = 0.4,
        smoothing: float = 0.8,
        bucket: float = 0.5,
        min_rate: float = 1.0 / 60.0,
        persist: int = 3,
        window: float = 30.0,
        rtts: float = 3.0,
    ) -> None:
        self.beta = _positive("beta", beta)
        if self.beta >= 1.0:
            raise ConfigError("beta", beta, "a fraction between 0 and 1")
        self.scale = _positive("scale", scale)
        self.smoothing = _positive("smoothing", smoothing)
        if self.smoothing > 1.0:
            raise ConfigError("smoothing", smoothing, "a weight between 0 and 1")
        self._bucket = _positive("bucket", bucket)
        self.min_rate = _positive("min_rate", min_rate)
        if isinstance(persist, bool) or not isinstance(persist, int) or persist < 1:
            raise ConfigError("persist", persist, "an int >= 1")
        self.persist = persist
        self.window = _positive("window", window)
        if isinstance(rtts, bool) or not isinstance(rtts, int | float) or not 0 <= rtts < 1000:
            raise ConfigError("rtts", rtts, "a number of round trips >= 0")
        self.rtts = float(rtts)
        self.rate: float | None = None
        self._w_max = 0.0
        self._k = 0.0
        self._scale = self.scale
        self._rtt = 0.0
        self._last_cut = -math.inf
        self._measured = 0.0
        self._count = 0
        self._last_bucket: float | None = None
        self._recent: list[float] = []

    # -- measured send rate ------------------------------------------------------------

    def record_send(self, now: float) -> None:
        """Count one request sent at ``now`` (botocore's RateClocker).

        A gap longer than two intervals of the learned rate (and two buckets)
        had no demand (callers idle, or a breaker open upstream): it restarts
        the count instead of averaging the silence in, so the 2x cap keeps
        the rate measured while there was demand."""
        bucket = math.floor(now / self._bucket) * self._bucket
        self._count += 1
        last = self._last_bucket
        if last is None:
            self._last_bucket = bucket
            return
        idle = 2.0 * self._bucket
        if self.rate is not None and 2.0 / self.rate > idle:
            idle = 2.0 / self.rate
        if bucket - last > idle:
            self._count = 1
            self._last_bucket = bucket
            return
        if bucket > last:
            current = self._count / (bucket - last)
            self._measured = current * self.smoothing + self._measured * (1.0 - self.smoothing)
            self._count = 0
            self._last_bucket = bucket

    def measured(self, now: float) -> float:
        """The smoothed send rate, or the current half-second's rate when that
        is higher (a burst has not closed its bucket yet)."""
        last = self._last_bucket
        if last is None:
            return 0.0
        partial = self._count / max(self._bucket, now - last)
        return max(self._measured, partial)

    # -- CUBIC ---------------------------------------------------------------------------

    def _cubic(self, now: float) -> float:
        dt = now - self._last_cut
        return self._scale * (dt - self._k) ** 3 + self._w_max

    def _sample_rtt(self, now: float, sent_at: float | None) -> None:
        if sent_at is None or not sent_at <= now:
            return
        rtt = now - sent_at
        self._rtt = rtt if self._rtt == 0.0 else self._rtt + 0.2 * (rtt - self._rtt)

    def on_success(
        self, now: float, sent_at: float | None = None, known: float | None = None
    ) -> float | None:
        """A request (sent at ``sent_at``) got through: grow the learned rate
        along the cubic. ``known`` is the limit in force (requests per
        second) when one is configured or stated: once the cubic is back
        there, learning lets go and the known limit rules again."""
        self._sample_rtt(now, sent_at)
        if self.rate is None:
            return None
        new = self._cubic(now)
        if known is not None and new >= known:
            self.rate = None
            self._recent.clear()
            return None
        cap = 2.0 * self.measured(now)
        if 0.0 < cap < new:
            new = cap
        self.rate = max(self.min_rate, new)
        return self.rate

    def on_throttle(self, now: float, sent_at: float, known: float | None = None) -> bool:
        """A request sent at ``sent_at`` was throttled. ``known`` is the limit
        in force (requests per second) when one is configured or stated.

        Returns True when the learned rate was cut.
        """
        self._sample_rtt(now, sent_at)
        if sent_at < self._last_cut:
            return False  # left before the last cut: no news
        if self.rate is None:
            self._recent = [t for t in self._recent if now - t <= self.window]
            self._recent.append(now)
            self._last_cut = now
            if known is not None and len(self._recent) < self.persist:
                return False
            self._recent.clear()
        measured = self.measured(now)
        current = self.rate if self.rate is not None else known
        if current is None:
            base = measured
        elif measured > 0.0:
            base = min(measured, current)
        else:
            base = current
        base = max(base, self.min_rate)
        self._w_max = base
        drop = base * (1.0 - self.beta)
        self._k = (drop / self.scale) ** (1.0 / 3.0)
        self._scale = self.scale
        floor = self.rtts * self._rtt
        if self._k < floor:
            # Stretch the curve so the old maximum comes back only after a few
            # round trips: feedback on the cut cannot arrive sooner than that.
            self._k = floor
            self._scale = drop / floor**3
        self._last_cut = now
        self.rate = max(self.min_rate, base * self.beta)
        return True

    def __repr__(self) -> str:
        rate = "unlearned" if self.rate is None else f"{self.rate:.3g}/s"
        return f"AdaptiveRate({rate})"
