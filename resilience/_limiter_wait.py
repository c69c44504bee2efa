"""Waiting for admission: FIFO slots and a FIFO queue per key.

Only the head of a key's queue asks the store, at the moment the store said
it could go (one timer per key); the calls behind it wait on their own
future. Slots are handed from a finishing call straight to the longest
waiting one, so a newcomer never overtakes. Every wait is bounded by the
call's budget (its deadline, or ``call.timeout`` outside a pipeline, and the
limiter's ``max_wait``); a wait known to pass it fails at once, and a waiter
that is cancelled or fails leaves nothing behind: its place, its slot and its
timers go.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from resilience._call import Call
from resilience._clock import Clock
from resilience._context import current_run, emit
from resilience._errors import ProviderError
from resilience._events import Event, RateLimitWait
from resilience._failure import Failure, Kind
from resilience._limit import KeyState, Waiter
from resilience._limiter_store import Grant, LimiterStore

__all__ = ["LOCAL", "MAX_LATE", "WaitingMixin"]

LOCAL = "local_rate_limit"
"""``Failure.code`` of a call the limiter held back itself."""

MAX_LATE = 0.05
"""Seconds of timer lateness the queue's head is forgiven (see ``_wait_turn``)."""


class WaitingMixin:
    """The waiting half of :class:`~resilience.RateLimiter`."""

    _store: LimiterStore
    _hooks: tuple[Callable[[Event], Any], ...]
    max_wait: float | None
    spill_after: float | None

    def _budget(self, call: Call) -> float | None:
        run = current_run()
        budget = run.remaining() if run is not None else call.timeout
        if self.max_wait is not None and (budget is None or self.max_wait < budget):
            budget = self.max_wait
        spill = self.spill_after
        if (
            spill is not None
            and run is not None
            and run.alternatives
            and (budget is None or spill < budget)
        ):
            budget = spill
        return budget

    def _local_error(self, state: KeyState, call: Call, wait: float, why: str) -> ProviderError:
        return ProviderError(
            Failure.of(
                Kind.RATE_LIMIT,
                code=LOCAL,
                retry_after=max(0.0, wait),
                provider=call.provider,
                # Retrying would only sleep out the wait this hold just refused
                # (defeating max_wait); Fallback can send elsewhere right away.
                retryable=False,
                failover=True,
                message=(
                    f"held locally by the rate limiter of {state.name} ({why}); no request was sent"
                ),
            ),
            call=call,
        )

    async def _wait_turn(
        self,
        state: KeyState,
        call: Call,
        clock: Clock,
        tokens: float,
        now: float,
        grant: Grant | None,
    ) -> Grant:
        """Queue behind the calls already waiting (FIFO); only the head asks
        the store, at the moment it said the head could go."""
        if grant is None:  # others are queued: estimate our start behind them
            grant = await self._store.reserve(
                state.name, now, tokens, state.rates, float(len(state.queue)), state.queued_tokens
            )
        wait = grant.start - now
        budget = self._budget(call)
        dimension = grant.binding or "requests"
        if budget is not None and wait > budget:
            raise self._local_error(
                state, call, wait, f"{dimension}: {wait:.3f}s to wait, {budget:.3f}s allowed"
            )
        loop = asyncio.get_running_loop()
        deadline = now + budget if budget is not None else math.inf
        waiter = Waiter(loop, call, tokens, deadline)
        state.queue.append(waiter)
        state.queued_tokens += tokens
        if budget is not None:
            waiter.timer = clock.call_at(
                deadline,
                lambda: waiter.fail(
                    self._local_error(state, call, 0.0, f"{dimension}: waited {budget:.3f}s")
                ),
            )
        started = now
        try:
            if state.queue[0] is waiter:
                self._arm(state, clock, grant.start)
            while True:
                await waiter.fut
                if waiter.error is not None:
                    raise waiter.error
                waiter.fut = loop.create_future()
                if state.queue[0] is not waiter:
                    continue
                now = clock.monotonic()
                # Woken late by a busy loop: ask as of the time the store named,
                # so the lateness is not lost to every later call (the schedule
                # keeps its pace; this send alone goes a little late).
                due = state.due
                at = now if due is None or due >= now else max(due, now - MAX_LATE)
                grant = await self._store.reserve(state.name, at, tokens, state.rates)
                if grant.admitted:
                    waiter.granted = True
                    break
                if grant.start > deadline:
                    why = f"{grant.binding or dimension}: the wait passes the deadline"
                    raise self._local_error(state, call, grant.start - now, why)
                self._arm(state, clock, grant.start)
        finally:
            self._leave(state, waiter)
        waited = now - started
        if waited > 0.0:
            emit(RateLimitWait, call, self._hooks, key=state.name, wait=waited, dimension=dimension)
        return grant

    def _arm(self, state: KeyState, clock: Clock, when: float) -> None:
        state.due = when
        if state.timer is not None:
            state.timer.cancel()
        state.timer = clock.call_at(when, lambda: self._wake_head(state))

    def _wake_head(self, state: KeyState) -> None:
        if state.queue:
            state.queue[0].wake()

    def _leave(self, state: KeyState, waiter: Waiter) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        was_head = bool(state.queue) and state.queue[0] is waiter
        try:
            state.queue.remove(waiter)
        except ValueError:
            return
        state.queued_tokens = max(0.0, state.queued_tokens - waiter.tokens) if state.queue else 0.0
        if was_head:
            state.due = None
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            self._wake_head(state)

    # -- concurrency slots -----------------------------------------------------------------------

    async def _wait_slot(self, state: KeyState, call: Call, clock: Clock) -> None:
        now = clock.monotonic()
        budget = self._budget(call)
        deadline = now + budget if budget is not None else math.inf
        waiter = Waiter(asyncio.get_running_loop(), call, 0.0, deadline)
        state.slot_waiters.append(waiter)
        if budget is not None:
            waiter.timer = clock.call_at(
                deadline,
                lambda: waiter.fail(
                    self._local_error(state, call, 0.0, f"no free slot within {budget:.3f}s")
                ),
            )
        try:
            await waiter.fut
        except BaseException:
            if waiter.granted:
                self._free_slot(state)
            raise
        finally:
            if waiter.timer is not None:
                waiter.timer.cancel()
            if not waiter.granted and waiter in state.slot_waiters:
                state.slot_waiters.remove(waiter)
        if waiter.error is not None and not waiter.granted:
            raise waiter.error
        waited = clock.monotonic() - now
        if waited > 0.0:
            emit(
                RateLimitWait,
                call,
                self._hooks,
                key=state.name,
                wait=waited,
                dimension="concurrency",
            )

    def _free_slot(self, state: KeyState) -> None:
        state.in_flight -= 1
        self._grant_slots(state)

    def _grant_slots(self, state: KeyState) -> None:
        waiters = state.slot_waiters
        while waiters and (state.capacity is None or state.in_flight < state.capacity):
            waiter = waiters.popleft()
            if waiter.fut.done():
                continue
            waiter.granted = True
            state.in_flight += 1
            waiter.wake()
