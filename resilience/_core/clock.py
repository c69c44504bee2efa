"""Injectable time.

Every component that waits or measures takes a :class:`Clock`. Production code
uses :class:`SystemClock` (the event loop's monotonic time); tests use
:class:`FakeClock` and move time forward explicitly, so no test sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock", "TimerHandle"]


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


@runtime_checkable
class Clock(Protocol):
    """Where time comes from: a monotonic reading, a sleep and a timer."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once ``monotonic()`` reaches ``when``."""
        ...


class SystemClock:
    """Monotonic system time, with timers on the running event loop."""

    __slots__ = ()

    def monotonic(self) -> float:
        # time.monotonic is what asyncio's loop.time() reads, at a fifth of the cost
        # of looking the loop up; call_at converts, so other loops stay correct.
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(when - time.monotonic(), callback)

    def __repr__(self) -> str:
        return "SystemClock()"


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "when")

    def __init__(self, when: float, callback: Callable[[], object]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when told to.

    ``await clock.advance(2.5)`` fires, in time order, every timer and sleep
    due within the next 2.5 seconds, letting woken tasks run between them so
    that timers they schedule in turn are honoured too.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._heap: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()

    def monotonic(self) -> float:
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> _FakeTimer:
        timer = _FakeTimer(when, callback)
        heapq.heappush(self._heap, (when, next(self._seq), timer))
        return timer

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        timer = self.call_at(self._now + seconds, wake)
        try:
            await fut
        finally:
            timer.cancel()

    def pending(self) -> int:
        """How many live timers are scheduled."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def next_deadline(self) -> float | None:
        while self._heap and self._heap[0][2].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    async def settle(self, rounds: int = 20) -> None:
        """Let ready tasks run until the loop has nothing left to do now."""
        for _ in range(rounds):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing what falls due on the way."""
        if seconds < 0:
            raise ValueError(f"FakeClock.advance: seconds must be >= 0, got {seconds!r}")
        target = self._now + seconds
        await self.settle()
        while True:
            when = self.next_deadline()
            if when is None or when > target:
                break
            _, _, timer = heapq.heappop(self._heap)
            self._now = max(self._now, when)
            timer.callback()
            await self.settle()
        self._now = target
        await self.settle()

    async def run_until_idle(self, limit: float = 3600.0) -> None:
        """Jump from timer to timer until none is left (or ``limit`` seconds pass)."""
        stop = self._now + limit
        await self.settle()
        while (when := self.next_deadline()) is not None and when <= stop:
            await self.advance(max(0.0, when - self._now))

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now!r})"
