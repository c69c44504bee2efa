"""What the limiter learns after a call: usage, headers, throttles.

Reconciliation charges or refunds tokens (refunds wake the queue's head);
rate-limit headers state limits (which then pace the key) and resync the
buckets. A 429 whose headers state a per-minute budget resyncs from them
(the dry bucket empties; the key keeps its pace) instead of holding the key;
any other 429 holds the key until its ``retry_after``, and a key with a
configured or stated pace no longer than its own bucket takes to drain.
Only 429s whose headers state no requests limit feed the adaptive rate: a
stated limit takes precedence over learning.

A key nobody configured starts in slow start (TCP's): one call in flight,
one more per success, until a limit is known, a throttle shows where it is,
or the window is wide.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from resilience._clock import Clock
from resilience._failure import Failure, Kind
from resilience._limit import KeyState
from resilience._limiter_store import LimiterStore, MemoryStore
from resilience._limiter_wait import LOCAL, WaitingMixin
from resilience._ratelimit_headers import RateLimitInfo, parse_ratelimit_headers

__all__ = ["MAX_HOLD", "PROBE_MAX", "PROBE_WAIT", "FeedbackMixin"]

MAX_HOLD = 60.0
"""Longest pushback honoured; a longer ``retry_after`` is provider garbage or
a quota, which is not this limiter's business."""

PROBE_WAIT = 2.0
"""Seconds without an answer after which slow start gives up (slow answers
say nothing about the limit)."""

PROBE_MAX = 64
"""Calls in flight at which slow start ends."""


class FeedbackMixin(WaitingMixin):
    """The learning half of :class:`~resilience.RateLimiter`."""

    _mem: MemoryStore | None
    _store: LimiterStore
    _tasks: set[asyncio.Task[None]]

    def _answered(self, state: KeyState, clock: Clock, ok: bool) -> None:
        """A call of a key in slow start was answered: widen the window by one
        on success; end slow start once a limit is known."""
        if not state.probing:
            return
        if state.known_rps() is not None or state.tpm is not None:
            self._end_probe(state)
            return
        if ok:
            state.window += 1
            if state.window >= PROBE_MAX:
                self._end_probe(state)
                return
            self._recompute(state)
            self._grant_slots(state)
        self._arm_probe(state, clock)

    def _arm_probe(self, state: KeyState, clock: Clock) -> None:
        if state.probe_timer is not None:
            state.probe_timer.cancel()
        state.probe_timer = clock.call_at(
            clock.monotonic() + PROBE_WAIT, lambda: self._end_probe(state)
        )

    def _end_probe(self, state: KeyState) -> None:
        if not state.probing:
            return
        state.probing = False
        if state.probe_timer is not None:
            state.probe_timer.cancel()
            state.probe_timer = None
        self._recompute(state)
        self._grant_slots(state)

    def _recompute(self, state: KeyState) -> None:
        if state.recompute():
            self._wake_head(state)

    def _sync_headers(
        self, state: KeyState, headers: Any, now: float, *, force: bool
    ) -> RateLimitInfo | None:
        """Take the limits the headers state and resync the buckets; return
        what was parsed (None: nothing, or skipped)."""
        # Parsing costs more than the rest of an admitted call; on successes,
        # ten times a second per key is plenty to follow a provider's counts.
        known = state.stated_rpm is not None or state.stated_tpm is not None
        if not force and known and now - state.last_parse < 0.1:
            return None
        state.last_parse = now
        info = parse_ratelimit_headers(headers)
        if info is None:
            return None
        # A limit whose reset is over a minute away is not per minute (a daily
        # quota, say): it says nothing about pace.
        changed = False
        rpm, tpm = info.requests_limit, info.tokens_limit
        if rpm and (info.requests_reset or 0.0) <= 61.0 and state.stated_rpm != rpm:
            state.stated_rpm = float(rpm)
            changed = True
        if tpm and (info.tokens_reset or 0.0) <= 61.0 and state.stated_tpm != tpm:
            state.stated_tpm = float(tpm)
            changed = True
        rr = float(info.requests_remaining) if info.requests_remaining is not None else None
        if changed:
            was_unlimited = not state.rates.request_interval
            self._end_probe(state)
            self._recompute(state)
            interval = state.rates.request_interval
            if was_unlimited and interval and now - state.last_sent < interval:
                # The requests sent while nothing was known count too: at
                # least the last one still occupies the bucket.
                rr = min(
                    rr if rr is not None else state.rates.request_capacity,
                    state.rates.request_capacity - 1.0,
                )
        if rr is None and info.tokens_remaining is None:
            return info
        tr = float(info.tokens_remaining) if info.tokens_remaining is not None else None
        self._sync_store(state, now, rr, tr)
        return info

    def _sync_store(self, state: KeyState, now: float, rr: float | None, tr: float | None) -> None:
        if self._mem is not None:
            self._mem.sync_now(state.name, now, state.rates, rr, tr)
        else:
            self._spawn(self._store.sync(state.name, now, state.rates, rr, tr))

    def _feedback_failure(
        self,
        state: KeyState,
        failure: Failure,
        now: float,
        sent_at: float,
        info: RateLimitInfo | None = None,
        tokens: float = 0.0,
    ) -> None:
        """A call (of ``tokens``) failed; ``info``: its parsed headers, already
        synced into the buckets by :meth:`_sync_headers`."""
        if failure.kind is not Kind.RATE_LIMIT or failure.code == LOCAL:
            return
        self._end_probe(state)
        retry_after = failure.retry_after
        # Providers send retry_after in whole seconds: as a hold on the whole
        # key it stops several sends' worth of a paced key for one refused
        # call. Headers stating a per-minute budget say more: when one ran
        # dry, the resync has already emptied that bucket, which refills at
        # the stated pace (such a budget refills continuously: its "reset" is
        # when it is full again, not when the next unit comes); when none did,
        # the provider counted over a shorter window than a minute, so the
        # key gives up its burst and waits one interval. Without such headers
        # the hold stays, but a key with a configured or stated pace holds no
        # longer than its own bucket takes to drain: repeated 429s teach the
        # adaptive rate instead.
        rates = state.rates
        if _explains(state, info, tokens):
            pass
        elif rates.request_interval and _states_budget(info):
            self._sync_store(state, now, 0.0, None)
        elif retry_after is not None and retry_after > 0.0:
            wait = min(retry_after, MAX_HOLD)
            if state.known_rps() is not None and rates.request_interval:
                wait = min(wait, rates.request_capacity * rates.request_interval)
            self._hold(state, now + wait, now)
        if _states_requests_limit(info):
            return  # the stated limit is in force already; nothing to learn
        learner = state.adaptive
        if learner is not None and learner.on_throttle(now, sent_at, state.known_rps()):
            self._recompute(state)

    def _hold(self, state: KeyState, until: float, now: float) -> None:
        if until <= state.hold:
            return
        state.hold = until
        if self._mem is not None:
            self._mem.hold_now(state.name, until)
        else:
            self._spawn(self._store.hold(state.name, until))
        # Calls already queued are held too; those whose deadline the hold
        # now passes fail at once instead of timing out in the queue.
        for waiter in state.queue:
            if waiter.deadline < until:
                waiter.fail(
                    self._local_error(
                        state, waiter.call, until - now, "pushback: the provider asked to wait"
                    )
                )
        self._wake_head(state)

    def _adjust(self, state: KeyState, now: float, tokens: float, mark: float) -> None:
        if tokens == 0.0 or not state.rates.token_interval:
            return
        if self._mem is not None:
            self._mem.adjust_now(state.name, now, tokens, state.rates, mark)
            if tokens < 0.0:
                self._wake_head(state)
        else:
            self._spawn(self._adjust_async(state, now, tokens, mark))

    async def _adjust_async(self, state: KeyState, now: float, tokens: float, mark: float) -> None:
        await self._store.adjust(state.name, now, tokens, state.rates, mark)
        if tokens < 0.0:
            self._wake_head(state)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _per_minute(reset: float | None) -> bool:
    return reset is None or reset <= 61.0


def _states_budget(info: RateLimitInfo | None) -> bool:
    """Whether headers state a per-minute limit and what is left of it."""
    if info is None:
        return False
    return bool(
        info.requests_limit
        and info.requests_remaining is not None
        and _per_minute(info.requests_reset)
    ) or bool(
        info.tokens_limit and info.tokens_remaining is not None and _per_minute(info.tokens_reset)
    )


def _states_requests_limit(info: RateLimitInfo | None) -> bool:
    return info is not None and bool(info.requests_limit) and _per_minute(info.requests_reset)


def _explains(state: KeyState, info: RateLimitInfo | None, tokens: float) -> bool:
    """Whether the headers of a 429 name a per-minute budget of the key that
    ran dry (requests left 0, or fewer tokens left than the call needed)."""
    if info is None:
        return False
    rates = state.rates
    if (
        rates.request_interval
        and info.requests_remaining is not None
        and info.requests_remaining <= 0
        and _per_minute(info.requests_reset)
    ):
        return True
    return bool(
        rates.token_interval
        and info.tokens_remaining is not None
        and info.tokens_remaining < max(tokens, 1.0)
        and _per_minute(info.tokens_reset)
    )
