"""A deadline for a block of code, on an injectable clock.

Like ``asyncio.timeout_at``, but the timer comes from :class:`Clock`, so a
:class:`FakeClock` can expire it without real time passing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import TracebackType

from resilience._core.call import Call
from resilience._core.clock import Clock, TimerHandle
from resilience._core.errors import DeadlineExceeded
from resilience._core.failure import Failure, Kind

__all__ = ["DeadlineScope", "Timeout", "deadline_error"]


def deadline_error(call: Call) -> DeadlineExceeded:
    return DeadlineExceeded(
        Failure.of(
            Kind.TIMEOUT,
            message=f"deadline of {call.timeout}s for the whole call exceeded",
            provider=call.provider,
            code="deadline_exceeded",
            retryable=False,
            failover=False,
            trips_breaker=False,
        ),
        call=call,
    )


class _Expiry:
    """Cancel the enclosed block when the clock reaches a time; tell on exit
    whether that cancellation is what ended it."""

    __slots__ = ("_clock", "_fired", "_handle", "_task")

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._fired = False
        self._handle: TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None

    def _arm(self, at: float) -> None:
        self._task = asyncio.current_task()
        self._handle = self._clock.call_at(at, self._fire)

    def _fire(self) -> None:
        if self._task is not None and not self._task.done():
            self._fired = True
            self._task.cancel()

    def _expired(self, exc: BaseException | None) -> bool:
        """Disarm; True when our own cancellation ended the block (an outer
        one, from the caller or a wider scope, goes on as it was)."""
        if self._handle is not None:
            self._handle.cancel()
        if not self._fired or self._task is None:
            return False
        return self._task.uncancel() == 0 and isinstance(exc, asyncio.CancelledError)


class DeadlineScope(_Expiry):
    """Cancel the enclosed block at ``deadline`` and raise ``DeadlineExceeded``."""

    __slots__ = ("_call", "_deadline")

    def __init__(self, clock: Clock, deadline: float, call: Call) -> None:
        super().__init__(clock)
        self._deadline = deadline
        self._call = call

    async def __aenter__(self) -> DeadlineScope:
        if self._clock.monotonic() >= self._deadline:
            raise deadline_error(self._call)
        self._arm(self._deadline)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._expired(exc):
            raise deadline_error(self._call) from exc


class Timeout(_Expiry):
    """Cancel the enclosed block after ``seconds`` and raise ``make_error()``
    instead (a first chunk or the next one that never came)."""

    __slots__ = ("_make_error", "_seconds")

    def __init__(
        self, clock: Clock, seconds: float, make_error: Callable[[], BaseException]
    ) -> None:
        super().__init__(clock)
        self._seconds = seconds
        self._make_error = make_error

    async def __aenter__(self) -> Timeout:
        self._arm(self._clock.monotonic() + self._seconds)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._expired(exc):
            raise self._make_error() from exc
