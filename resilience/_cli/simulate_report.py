"""Counting what happened in ``resilience simulate``, and the summary it prints.

Every figure comes from something observed: the pipeline's events (retries,
fallbacks, degradations, limiter waits, breaker trips), the wire (requests
and their statuses, seen by httpx event hooks per logical call), the fake
providers' own records (429s sent), and the outcome and wall time of each
logical call as the application saw it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from resilience._classify.classify import classify
from resilience._core.context import LOCAL_HOLD, SPILLED
from resilience._core.errors import (
    CircuitOpenError,
    FallbackExhausted,
    ProviderError,
    ResilienceError,
)
from resilience._core.events import (
    AttemptEnded,
    BreakerReject,
    BreakerStateChange,
    CallEnded,
    Degraded,
    Event,
    FallbackHop,
    RateLimitWait,
    RetryScheduled,
)
from resilience._core.failure import Bucket

__all__ = ["ACTIONS", "CIRCUIT_OPEN", "Tally", "bucket_of_error", "percentile", "summarize"]

ACTIONS = ("retry", "fallback", "degrade", "surfaced")
"""What became of a provider error: retried on the same target, moved to
another target, sent again without a feature, or handed to the application."""


def _status_bucket(status: int) -> str:
    return classify(status=status).bucket.value


CIRCUIT_OPEN = "circuit_open"
"""Not a bucket: every target refused the call at once with an open breaker."""


def bucket_of_error(error: BaseException) -> str:
    """The bucket of the failure that ended a call; ``circuit_open`` when every
    target's breaker refused it, ``unknown`` when nothing else is known."""
    failure = getattr(error, "failure", None)
    if failure is None and isinstance(error, FallbackExhausted):
        # Name the last real provider failure among the targets tried.
        for _, err in reversed(error.errors):
            failure = getattr(err, "failure", None)
            if failure is not None:
                break
        else:
            if error.errors and all(isinstance(e, CircuitOpenError) for _, e in error.errors):
                return CIRCUIT_OPEN
    if failure is None and isinstance(error, CircuitOpenError):
        return CIRCUIT_OPEN
    if failure is not None:
        return str(failure.bucket.value)
    if isinstance(error, ResilienceError):
        return Bucket.UNKNOWN.value
    return classify(error).bucket.value


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Tally:
    """One side's counters. Also a pipeline subscriber (``on_event``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.succeeded = 0
        self.failed = 0
        self.started = 0
        self.latencies: list[float] = []
        self.failures_by_bucket: Counter[str] = Counter()
        self.sends = 0
        self.statuses: Counter[int] = Counter()
        self.provider_errors: Counter[str] = Counter()
        self.handled: dict[str, Counter[str]] = {}
        self.retries = 0
        self.fallbacks = 0
        self.degrades = 0
        self.local_holds = 0
        self.spills = 0
        self.waits = 0
        self.wait_seconds = 0.0
        self.breaker_trips = 0
        self.breaker_rejects = 0
        self.sdk_retries = 0
        self._pending: dict[int, str] = {}  # call_id -> bucket of its unresolved failure

    # -- the application's view -------------------------------------------------------

    def record_call(
        self, latency: float, error: BaseException | None, statuses: Sequence[int], sends: int
    ) -> None:
        """One logical call finished (``error`` None: it succeeded)."""
        self.calls += 1
        self.latencies.append(latency)
        if error is None:
            self.succeeded += 1
        else:
            self.failed += 1
            self.failures_by_bucket[bucket_of_error(error)] += 1
        self.sends += sends
        for status in statuses:
            self.statuses[status] += 1

    def record_sdk_call(self, statuses: Sequence[int], sends: int) -> None:
        """Without a pipeline, the wire says what the SDK did: an error
        response followed by another request was retried, the last one surfaced."""
        self.sdk_retries += max(0, sends - 1)
        for i, status in enumerate(statuses):
            if status < 400:
                continue
            bucket = _status_bucket(status)
            self.provider_errors[bucket] += 1
            action = "retry" if i < len(statuses) - 1 else "surfaced"
            self._handle(bucket, action)

    def _handle(self, bucket: str, action: str) -> None:
        counter = self.handled.get(bucket)
        if counter is None:
            counter = self.handled[bucket] = Counter()
        counter[action] += 1

    # -- the pipeline's view -------------------------------------------------------------

    def _resolve(self, call_id: int, action: str) -> None:
        bucket = self._pending.pop(call_id, None)
        if bucket is not None:
            self._handle(bucket, action)

    def on_event(self, event: Event) -> None:
        if isinstance(event, AttemptEnded):
            error = event.error
            failure = event.failure
            if failure is None or not isinstance(error, ProviderError):
                return
            if failure.code == LOCAL_HOLD:
                self.local_holds += 1
                return
            if failure.code == SPILLED:
                self.spills += 1
                return
            bucket = failure.bucket.value
            self.provider_errors[bucket] += 1
            self._pending[event.call_id] = bucket
        elif isinstance(event, RetryScheduled):
            self.retries += 1
            self._resolve(event.call_id, "retry")
        elif isinstance(event, FallbackHop):
            self.fallbacks += 1
            self._resolve(event.call_id, "fallback")
        elif isinstance(event, Degraded):
            self.degrades += 1
            self._resolve(event.call_id, "degrade")
        elif isinstance(event, CallEnded):
            if event.error is not None:
                self._resolve(event.call_id, "surfaced")
            else:
                self._pending.pop(event.call_id, None)
        elif isinstance(event, RateLimitWait):
            self.waits += 1
            self.wait_seconds += event.wait
        elif isinstance(event, BreakerStateChange):
            if event.new == "open":
                self.breaker_trips += 1
        elif isinstance(event, BreakerReject):
            self.breaker_rejects += 1


def summarize(
    tally: Tally,
    *,
    elapsed: float,
    provider_429s: int,
    provider_requests: int,
    unfinished: int,
    capacity_rpm: float,
    healthy_capacity: float = 0.0,
) -> dict[str, Any]:
    """One side's figures, in the shape ``--json`` prints. ``healthy_capacity``:
    the requests the providers allowed over the run while they were up."""
    lat = sorted(tally.latencies)
    per_minute = tally.succeeded / elapsed * 60.0 if elapsed > 0 else 0.0
    healthy_share = tally.succeeded / healthy_capacity if healthy_capacity else 0.0
    retries = tally.retries if tally.name == "pipeline" else tally.sdk_retries
    return {
        "calls": tally.calls,
        "succeeded": tally.succeeded,
        "failed": tally.failed,
        "unfinished": unfinished,
        "success_rate": round(tally.succeeded / tally.calls, 4) if tally.calls else 0.0,
        "goodput_rpm": round(per_minute, 1),
        "goodput_share": round(per_minute / capacity_rpm, 4) if capacity_rpm else 0.0,
        "healthy_capacity_share": round(healthy_share, 4),
        "requests": provider_requests,
        "provider_429s": provider_429s,
        "retries": retries,
        "fallbacks": tally.fallbacks,
        "degrades": tally.degrades,
        "limiter_waits": tally.waits,
        "limiter_wait_s": round(tally.wait_seconds, 2),
        "local_holds": tally.local_holds,
        "spills": tally.spills,
        "breaker_trips": tally.breaker_trips,
        "breaker_rejects": tally.breaker_rejects,
        "mean_ms": round(sum(lat) / len(lat) * 1000, 1) if lat else 0.0,
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "failures_by_bucket": dict(sorted(tally.failures_by_bucket.items())),
        "provider_errors_by_bucket": dict(sorted(tally.provider_errors.items())),
        "handled_by_bucket": {
            b: {a: c[a] for a in ACTIONS if c[a]} for b, c in sorted(tally.handled.items())
        },
        "elapsed_s": round(elapsed, 2),
    }


def _fmt_int(n: Any) -> str:
    return f"{n:,}" if isinstance(n, int) else str(n)


def comparison_rows(result: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """``(metric, baseline, pipeline)`` rows of the main table."""
    b, p = result["baseline"], result["pipeline"]
    cap = result.get("config", {}).get("capacity_rpm", 0)

    def pct(side: Mapping[str, Any]) -> str:
        return f"{side['succeeded']:,} ({side['success_rate'] * 100:.1f}%)"

    def goodput(side: Mapping[str, Any]) -> str:
        return f"{side['goodput_rpm']:,.0f}/min ({side['goodput_share'] * 100:.0f}% of {cap:,.0f})"

    def healthy(side: Mapping[str, Any]) -> str:
        return f"{side.get('healthy_capacity_share', 0.0) * 100:.0f}%"

    rows = [
        ("calls finished", _fmt_int(b["calls"]), _fmt_int(p["calls"])),
        ("succeeded", pct(b), pct(p)),
        ("failed", _fmt_int(b["failed"]), _fmt_int(p["failed"])),
        ("goodput (ok calls, share of limits)", goodput(b), goodput(p)),
        ("ok calls / what healthy providers allowed", healthy(b), healthy(p)),
        ("requests sent", _fmt_int(b["requests"]), _fmt_int(p["requests"])),
        ("429s received", _fmt_int(b["provider_429s"]), _fmt_int(p["provider_429s"])),
        ("retries", _fmt_int(b["retries"]), _fmt_int(p["retries"])),
        ("fallbacks", _fmt_int(b["fallbacks"]), _fmt_int(p["fallbacks"])),
        ("moved to a target with room (spills)", "-", _fmt_int(p.get("spills", 0))),
        ("degraded (feature off)", _fmt_int(b["degrades"]), _fmt_int(p["degrades"])),
        (
            "limiter waits (calls, total)",
            "-",
            f"{p['limiter_waits']:,} ({p['limiter_wait_s']:,.0f}s)",
        ),
        ("breaker trips", _fmt_int(b["breaker_trips"]), _fmt_int(p["breaker_trips"])),
        ("calls refused by open breaker", "-", _fmt_int(p["breaker_rejects"])),
        ("latency mean", f"{b.get('mean_ms', 0):,.0f} ms", f"{p.get('mean_ms', 0):,.0f} ms"),
        ("latency p50", f"{b['p50_ms']:,.0f} ms", f"{p['p50_ms']:,.0f} ms"),
        ("latency p95", f"{b['p95_ms']:,.0f} ms", f"{p['p95_ms']:,.0f} ms"),
        ("latency p99", f"{b['p99_ms']:,.0f} ms", f"{p['p99_ms']:,.0f} ms"),
        ("unfinished at the end", _fmt_int(b["unfinished"]), _fmt_int(p["unfinished"])),
    ]
    return rows


def bucket_rows(result: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Per bucket: provider errors seen, what absorbed them, calls that failed.

    ``(bucket, baseline errors, baseline handled, baseline failed calls,
    pipeline errors, pipeline handled, pipeline failed calls)``.
    """
    b, p = result["baseline"], result["pipeline"]
    buckets = sorted(
        set(b["provider_errors_by_bucket"])
        | set(p["provider_errors_by_bucket"])
        | set(b["failures_by_bucket"])
        | set(p["failures_by_bucket"])
    )

    def handled(side: Mapping[str, Any], bucket: str) -> str:
        h = side["handled_by_bucket"].get(bucket, {})
        return "\n".join(f"{a} {h[a]:,}" for a in ACTIONS if h.get(a)) or "-"

    rows: list[tuple[str, ...]] = []
    for bucket in buckets:
        rows.append(
            (
                bucket,
                _fmt_int(b["provider_errors_by_bucket"].get(bucket, 0)),
                handled(b, bucket),
                _fmt_int(b["failures_by_bucket"].get(bucket, 0)),
                _fmt_int(p["provider_errors_by_bucket"].get(bucket, 0)),
                handled(p, bucket),
                _fmt_int(p["failures_by_bucket"].get(bucket, 0)),
            )
        )
    return rows
