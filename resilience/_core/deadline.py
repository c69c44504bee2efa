"""A deadline for a block of code, on an injectable clock.

Like ``asyncio.timeout_at``, but the timer comes from :class:`Clock`, so a
:class:`FakeClock` can expire it without real time passing.
"""

from __future__ import annotations

import asyncio
from types import TracebackType

from resilience._classify.failure import Failure, Kind
from resilience._core.call import Call
from resilience._core.clock import Clock, TimerHandle
from resilience._core.errors import DeadlineExceeded

__all__ = ["DeadlineScope", "deadline_error"]


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


class DeadlineScope:
    """Cancel the enclosed block at ``deadline`` and raise ``DeadlineExceeded``."""

    __slots__ = ("_call", "_clock", "_deadline", "_fired", "_handle", "_task")

    def __init__(self, clock: Clock, deadline: float, call: Call) -> None:
        self._clock = clock
        self._deadline = deadline
        self._call = call
        self._fired = False
        self._handle: TimerHandle | None = None
        self._task: asyncio.Task[object] | None = None

    async def __aenter__(self) -> DeadlineScope:
        if self._clock.monotonic() >= self._deadline:
            raise deadline_error(self._call)
        self._task = asyncio.current_task()
        self._handle = self._clock.call_at(self._deadline, self._fire)
        return self

    def _fire(self) -> None:
        if self._task is not None and not self._task.done():
            self._fired = True
            self._task.cancel()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._fired and self._task is not None:
            remaining = self._task.uncancel()
            if (
                remaining == 0
                and exc_type is not None
                and issubclass(exc_type, asyncio.CancelledError)
            ):
                raise deadline_error(self._call) from exc
