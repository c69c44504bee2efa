"""Guard: a pipeline around a call that somebody else makes.

Callback-style hosts (LiteLLM's ``CustomLogger``, LangChain's callback
handlers) send the request themselves; we only hear before and after. A
:class:`Guard` turns those two moments into one pipeline run:
``await guard.enter(call)`` starts the run in a task of its own and returns
once the middlewares (breaker, limiter) admitted the call, raising what they
raised (``CircuitOpenError``, a limiter's deadline error) otherwise. The
returned :class:`Ticket` ends the run with the host's outcome:
``succeed(usage=, headers=)``, ``fail(failure, headers=)`` or ``cancel()``.

The run's middlewares, events and spans are the ordinary ones: the handler
"sends" the call by waiting for the ticket, and reports what the host saw
from inside the attempt. A ticket nobody ends is cancelled after
``max_hold`` seconds, so a lost callback cannot hold a limiter slot forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from resilience._core.call import Call
from resilience._core.clock import Clock
from resilience._core.context import report
from resilience._core.errors import ConfigError, ProviderError
from resilience._core.failure import Failure
from resilience._core.pipeline import Pipeline

__all__ = ["Guard", "Ticket"]


class _Outcome:
    __slots__ = ("failure", "headers", "response_model", "usage")

    def __init__(
        self,
        failure: Failure | None,
        headers: Mapping[str, str] | None,
        usage: Mapping[str, int] | None,
        response_model: str | None,
    ) -> None:
        self.failure = failure
        self.headers = headers
        self.usage = usage
        self.response_model = response_model


class Ticket:
    """One admitted call. End it exactly once; later ends are ignored."""

    __slots__ = ("_outcome", "_task", "call")

    def __init__(self, call: Call, outcome: asyncio.Future[_Outcome], task: asyncio.Task[Any]):
        self.call = call
        self._outcome = outcome
        self._task = task

    @property
    def done(self) -> bool:
        return self._outcome.done()

    def succeed(
        self,
        *,
        usage: Mapping[str, int] | None = None,
        headers: Mapping[str, str] | None = None,
        response_model: str | None = None,
    ) -> None:
        """The host got an answer: release the limiter with the real usage,
        resync it from ``headers``, count a success for the breaker."""
        if not self._outcome.done():
            self._outcome.set_result(_Outcome(None, headers, usage, response_model))

    def fail(self, failure: Failure, *, headers: Mapping[str, str] | None = None) -> None:
        """The host's request failed with ``failure`` (from ``classify``)."""
        if not self._outcome.done():
            self._outcome.set_result(_Outcome(failure, headers, None, None))

    def cancel(self) -> None:
        """No verdict (the caller gave up): free what the call holds."""
        if not self._outcome.done():
            self._outcome.cancel()
        self._task.cancel()

    async def wait_closed(self) -> None:
        """Until the run has released everything (mainly for tests)."""
        with contextlib.suppress(BaseException):
            await asyncio.shield(self._task)


class Guard:
    """Admit calls made by a host through ``pipeline`` (without Retry or
    Fallback: the host repeats calls itself). ``max_hold`` bounds how long a
    ticket may stay open, in seconds on the pipeline's clock."""

    def __init__(self, pipeline: Pipeline, *, max_hold: float = 900.0) -> None:
        if not isinstance(pipeline, Pipeline):
            raise ConfigError("pipeline", type(pipeline).__name__, "a resilience.Pipeline")
        if isinstance(max_hold, bool) or not isinstance(max_hold, int | float) or not max_hold > 0:
            raise ConfigError("max_hold", max_hold, "seconds > 0")
        for mw in pipeline.middlewares:
            if getattr(mw, "repeats_calls", False):
                raise ConfigError(
                    "pipeline", type(mw).__name__, "no Retry or Fallback (the host repeats calls)"
                )
        self.pipeline = pipeline
        self.max_hold = float(max_hold)
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def clock(self) -> Clock:
        return self.pipeline.clock

    @property
    def open_tickets(self) -> int:
        """Runs still holding something."""
        return sum(1 for t in self._tasks if not t.done())

    async def enter(self, call: Call) -> Ticket:
        """Wait until ``call`` is admitted; raise what the pipeline raised if
        it is refused. Cancelling the wait frees whatever was taken."""
        loop = asyncio.get_running_loop()
        admitted: asyncio.Future[None] = loop.create_future()
        outcome: asyncio.Future[_Outcome] = loop.create_future()
        clock = self.pipeline.clock
        hold = self.max_hold

        async def handler(c: Call) -> Any:
            if not admitted.done():
                admitted.set_result(None)
            timer = clock.call_at(clock.monotonic() + hold, outcome.cancel)
            try:
                got = await outcome
            finally:
                timer.cancel()
            if got.headers is not None or got.usage is not None or got.response_model:
                report(headers=got.headers, usage=got.usage, response_model=got.response_model)
            if got.failure is not None:
                raise ProviderError(got.failure, call=c)
            return None

        task = loop.create_task(self.pipeline.run(handler, call))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        try:
            await asyncio.wait((admitted, task), return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        if not admitted.done():
            # Refused before the handler ran: re-raise the pipeline's verdict.
            admitted.cancel()
            await task  # raises the refusal
            raise RuntimeError(f"{self.pipeline!r} finished without sending {call.target}")
        return Ticket(call, outcome, task)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            # The host saw the outcome itself; ours only fed the middlewares.
            task.exception()

    async def aclose(self) -> None:
        """Cancel every open ticket and wait until they released."""
        tasks = list(self._tasks)
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t
            # Done callbacks run on a later loop turn; do not wait for them.
            self._tasks.discard(t)

    def __repr__(self) -> str:
        return f"Guard({self.pipeline!r})"
