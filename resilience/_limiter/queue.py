"""One key's waiting calls: a FIFO queue for turns and one for slots.

Only the head of the turn queue asks the store, at the moment the store said
it could go (one timer per key); the calls behind it wait on their own
future. Turns go oldest call first (by when the logical call began), so a
call that waited at another target, or that the provider refused with a 429
after its turn, does not start over at the back. Slots are handed from
a finishing call straight to the longest waiting one, so a newcomer never
overtakes. Every wait has a deadline; a waiter that is refused, cancelled or
times out leaves nothing behind: its place, its slot and its timers go.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Callable
from typing import Any

from resilience._core.call import Call
from resilience._core.clock import Clock, TimerHandle
from resilience._core.context import LOCAL_HOLD, SPILLED, RunContext, emit
from resilience._core.errors import ProviderError
from resilience._core.events import Event, RateLimitWait
from resilience._core.failure import Failure, Kind
from resilience._limiter.buckets import Buckets
from resilience._limiter.pace import Pace
from resilience._store.limiter import Grant

__all__ = ["LOCAL", "MAX_LATE", "SPILLED", "KeyQueue", "Waiter", "refusal"]

LOCAL = LOCAL_HOLD
"""``Failure.code`` of a call the limiter held back itself: its wait would
pass its deadline (or ``max_wait``)."""

MAX_LATE = 0.05
"""Seconds of timer lateness the queue's head is forgiven (see :meth:`KeyQueue.wait_turn`)."""


def refusal(key: str, call: Call, wait: float, why: str, code: str = LOCAL) -> ProviderError:
    """The error of a call the limiter refused before sending it."""
    return ProviderError(
        Failure.of(
            Kind.RATE_LIMIT,
            code=code,
            retry_after=max(0.0, wait),
            provider=call.provider,
            # Retrying would only sleep out the wait this refusal avoided;
            # Fallback can send elsewhere right away.
            retryable=False,
            failover=True,
            message=f"held locally by the rate limiter of {key} ({why}); no request was sent",
        ),
        call=call,
    )


class Waiter:
    """One call queued for its turn (rate) or a slot (concurrency)."""

    __slots__ = ("call", "deadline", "error", "fut", "granted", "rank", "run", "timer", "tokens")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        call: Call,
        tokens: float,
        deadline: float,
        run: RunContext | None,
        rank: float = 0.0,
    ) -> None:
        self.call = call
        self.tokens = tokens
        self.deadline = deadline  # clock reading past which it gives up
        self.run = run
        self.rank = rank  # when its logical call began: older calls go first
        self.fut: asyncio.Future[None] = loop.create_future()
        self.error: BaseException | None = None
        self.granted = False
        self.timer: TimerHandle | None = None

    def wake(self) -> None:
        if not self.fut.done():
            self.fut.set_result(None)

    def fail(self, error: BaseException) -> None:
        if self.error is None and not self.granted:
            self.error = error
        self.wake()


class KeyQueue:
    """Turns and slots of one key."""

    __slots__ = (
        "_buckets",
        "_hooks",
        "_pace",
        "due",
        "in_flight",
        "name",
        "queued_tokens",
        "slot_waiters",
        "timer",
        "waiters",
    )

    def __init__(
        self,
        name: str,
        pace: Pace,
        buckets: Buckets,
        hooks: tuple[Callable[[Event], Any], ...],
    ) -> None:
        self.name = name
        self._pace = pace
        self._buckets = buckets
        self._hooks = hooks
        self.waiters: deque[Waiter] = deque()
        self.queued_tokens = 0.0
        self.timer: TimerHandle | None = None
        self.due: float | None = None  # when the head's timer is set to fire
        self.in_flight = 0
        self.slot_waiters: deque[Waiter] = deque()

    # -- turns -------------------------------------------------------------------------------

    async def estimate(self, now: float, tokens: float, rank: float) -> Grant:
        """The store's answer for a call of age ``rank`` arriving now:
        admitted (only when nobody older waits), or when it could start
        behind the older calls waiting."""
        ahead = 0
        ahead_tokens = 0.0
        for waiter in self.waiters:
            if waiter.rank > rank:
                break
            ahead += 1
            ahead_tokens += waiter.tokens
        return await self._buckets.reserve(
            now, tokens, self._pace.rates, float(ahead), ahead_tokens
        )

    def wait_estimate(self, now: float, tokens: float, latency: float) -> float | None:
        """Seconds a call arriving now would wait (None: unknown without
        asking a remote store); ``latency`` is how long a call of the key
        usually takes, for the wait for a slot. Changes nothing."""
        start = self._buckets.peek(
            now, tokens, self._pace.rates, float(len(self.waiters)), self.queued_tokens
        )
        if start is None:
            if self.due is None:
                return None
            start = self.due + len(self.waiters) * self._pace.rates.request_interval
        wait = max(0.0, start - now)
        pace = self._pace
        capacity = pace.capacity
        if capacity is not None and self.in_flight >= capacity:
            # No free slot: calls in flight have to finish first.
            wait = max(wait, latency * (len(self.slot_waiters) + 1) / capacity)
        return wait

    async def wait_turn(
        self,
        call: Call,
        clock: Clock,
        tokens: float,
        start: float,
        deadline: float,
        run: RunContext | None,
        dimension: str,
        rank: float,
    ) -> tuple[Grant, float]:
        """Queue until the store admits the call; return its grant and when.

        ``start`` is the store's estimate; ``deadline`` the clock reading at
        which the call gives up (``math.inf``: never); ``rank`` its age (when
        its logical call began): older calls go first."""
        loop = asyncio.get_running_loop()
        now = started = clock.monotonic()
        waiter = Waiter(loop, call, tokens, deadline, run, rank)
        self._insert(waiter)
        self.queued_tokens += tokens
        budget = deadline - now  # now moves on below; the message keeps the wait allowed
        self._expire(clock, waiter, lambda: f"{dimension}: waited {budget:.3f}s")
        try:
            if self.waiters[0] is waiter:
                self._arm(clock, start)
            while True:
                await waiter.fut
                if waiter.error is not None:
                    raise waiter.error
                waiter.fut = loop.create_future()
                if self.waiters[0] is not waiter:
                    continue
                now = clock.monotonic()
                # Woken late by a busy loop: ask as of the time the store named,
                # so the lateness is not lost to every later call (the schedule
                # keeps its pace; this send alone goes a little late).
                due = self.due
                at = now if due is None or due >= now else max(due, now - MAX_LATE)
                grant = await self._buckets.reserve(at, tokens, self._pace.rates)
                if grant.admitted:
                    waiter.granted = True
                    break
                if grant.start > deadline:
                    why = f"{grant.binding or dimension}: the wait passes the deadline"
                    raise refusal(self.name, call, grant.start - now, why)
                self._arm(clock, grant.start)
        finally:
            self._leave(waiter)
        waited = now - started
        if waited > 0.0:
            emit(RateLimitWait, call, self._hooks, key=self.name, wait=waited, dimension=dimension)
        return grant, now

    def _expire(self, clock: Clock, waiter: Waiter, why: Callable[[], str]) -> None:
        """Refuse ``waiter`` when its deadline comes (never, for an unbounded wait)."""
        if waiter.deadline != math.inf:
            waiter.timer = clock.call_at(
                waiter.deadline,
                lambda: waiter.fail(refusal(self.name, waiter.call, 0.0, why())),
            )

    def _insert(self, waiter: Waiter) -> None:
        waiters = self.waiters
        if not waiters or waiters[-1].rank <= waiter.rank:
            waiters.append(waiter)  # the usual case: the newest call
            return
        at = len(waiters)
        while at > 0 and waiters[at - 1].rank > waiter.rank:
            at -= 1
        if at == 0 and self.due is not None:
            # A new head: it asks the store itself; the old head's timer goes.
            self.due = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
        waiters.insert(at, waiter)

    def _arm(self, clock: Clock, when: float) -> None:
        self.due = when
        if self.timer is not None:
            self.timer.cancel()
        self.timer = clock.call_at(when, self.wake)

    def wake(self) -> None:
        """Let the head ask the store again (the limits loosened, tokens came back)."""
        if self.waiters:
            self.waiters[0].wake()

    def _leave(self, waiter: Waiter) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        was_head = bool(self.waiters) and self.waiters[0] is waiter
        try:
            self.waiters.remove(waiter)
        except ValueError:
            return
        self.queued_tokens = max(0.0, self.queued_tokens - waiter.tokens) if self.waiters else 0.0
        if was_head:
            self.due = None
            if self.timer is not None:
                self.timer.cancel()
                self.timer = None
            self.wake()

    def refuse(self, verdict: Callable[[Waiter], ProviderError | None]) -> None:
        """Fail every waiting call ``verdict`` returns an error for (after a
        pushback: those it makes miss their deadline, or that may go elsewhere)."""
        for waiter in list(self.waiters):
            error = verdict(waiter)
            if error is not None:
                waiter.fail(error)
        self.wake()

    # -- slots -------------------------------------------------------------------------------

    def try_slot(self) -> bool:
        """Take a free slot if one is free and nobody waits for one."""
        capacity = self._pace.capacity
        if self.slot_waiters or (capacity is not None and self.in_flight >= capacity):
            return False
        self.in_flight += 1
        return True

    async def wait_slot(
        self, call: Call, clock: Clock, deadline: float, run: RunContext | None
    ) -> None:
        """Wait for a slot, in order of arrival, until ``deadline``."""
        now = clock.monotonic()
        waiter = Waiter(asyncio.get_running_loop(), call, 0.0, deadline, run)
        self.slot_waiters.append(waiter)
        budget = deadline - now
        self._expire(clock, waiter, lambda: f"no free slot within {budget:.3f}s")
        try:
            await waiter.fut
        except BaseException:
            if waiter.granted:
                self.free_slot()
            raise
        finally:
            if waiter.timer is not None:
                waiter.timer.cancel()
            if not waiter.granted and waiter in self.slot_waiters:
                self.slot_waiters.remove(waiter)
        if waiter.error is not None and not waiter.granted:
            raise waiter.error
        waited = clock.monotonic() - now
        if waited > 0.0:
            emit(
                RateLimitWait,
                call,
                self._hooks,
                key=self.name,
                wait=waited,
                dimension="concurrency",
            )

    def free_slot(self) -> None:
        self.in_flight -= 1
        self.grant_slots()

    def grant_slots(self) -> None:
        """Hand free slots to the longest waiting calls."""
        waiters = self.slot_waiters
        capacity = self._pace.capacity
        while waiters and (capacity is None or self.in_flight < capacity):
            waiter = waiters.popleft()
            if waiter.fut.done():
                continue
            waiter.granted = True
            self.in_flight += 1
            waiter.wake()
