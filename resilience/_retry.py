"""Retry: try the same target again, but only when it can help.

- Only failures the classifier marks ``retryable`` (rate limits, 5xx,
  timeouts, dropped connections) are retried; a ``CircuitOpenError``, a bad
  request or a bug in the handler goes straight out.
- Waits grow exponentially with jitter up to ``cap``, and are at least the
  provider's ``retry_after``.
- A wait that would end past the call's deadline is not started: the last
  error is raised at once, so an outer :class:`~resilience.Fallback` can use
  the time left on another target.
- A :class:`~resilience._budget.RetryBudget` per provider caps retries at a
  share of the calls, so retries cannot multiply the load of an outage.
- Streams: the pipeline hands a stream back only after its first chunk, so
  everything this middleware sees is pre-output; an error in the middle of a
  stream reaches the caller and is never retried.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Final

from resilience._budget import RetryBudget
from resilience._call import Call, Handler
from resilience._clock import Clock
from resilience._context import clock_of, current_run, emit
from resilience._errors import ConfigError, DeadlineExceeded, ProviderError
from resilience._events import Event, RetryScheduled, Subscriber, as_callback
from resilience._failure import Failure, Kind
from resilience._validate import number

__all__ = ["JITTERS", "Retry", "timed_out_attempt"]

JITTERS: Final = ("full", "equal", "none")


class _Default:
    def __repr__(self) -> str:
        return "RetryBudget()"


_DEFAULT_BUDGET: Final = _Default()


class _AttemptTimer:
    """Set when ``attempt_timeout`` cancelled the attempt, so the breaker
    inside can count the cancellation it sees as a timeout."""

    __slots__ = ("failure",)

    def __init__(self) -> None:
        self.failure: Failure | None = None


_TIMER: ContextVar[_AttemptTimer | None] = ContextVar("resilience_attempt_timer", default=None)


def timed_out_attempt() -> Failure | None:
    """The timeout failure if the current attempt was cut by ``attempt_timeout``."""
    timer = _TIMER.get()
    return timer.failure if timer is not None else None


class Retry:
    """Retry retryable failures of one target with capped, jittered backoff.

    ``Retry(3)`` makes at most 3 attempts: the first try and 2 retries. The
    n-th retry waits ``min(cap, base * 2**(n-1))`` scaled by the jitter
    (``"full"``: uniformly 0 to that; ``"equal"``: half fixed, half random;
    ``"none"``), and at least the failure's ``retry_after``.

    ``budget`` (default ``RetryBudget(ratio=0.2, min_per_second=1.0,
    window=10.0)``, one per ``Retry``) is shared by all calls, per provider;
    ``None`` turns it off. ``attempt_timeout`` cuts an attempt that hangs
    and turns it into a retryable ``timeout`` failure (which also counts
    against the breaker, when one sits inside).

    A 429 that a :class:`RateLimiter` inside has paced (it slowed its key
    down, so the call only has to wait its turn there) is sent again at once:
    it counts against neither ``attempts`` nor the budget, and only the
    call's deadline bounds it (``max_requeues`` for a call without one).

    ``failover_after`` (seconds, default 0.5): inside a :class:`Fallback`
    that still has another target, a failure that another target may serve
    is not retried here when the wait would be longer than this; it goes to
    the next target at once. ``None`` always waits.
    """

    repeats_calls = True

    def __init__(
        self,
        attempts: int = 3,
        *,
        base: float = 0.5,
        cap: float = 20.0,
        jitter: str = "full",
        budget: RetryBudget | _Default | None = _DEFAULT_BUDGET,
        clock: Clock | None = None,
        random: _random.Random | None = None,
        hooks: Sequence[Subscriber] = (),
        attempt_timeout: float | None = None,
        failover_after: float | None = 0.5,
        max_requeues: int = 20,
    ) -> None:
        if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
            raise ConfigError("attempts", attempts, "an int >= 1")
        self.attempts = attempts
        self.base = number("base", base)
        self.cap = number("cap", cap)
        if self.cap < self.base:
            raise ConfigError("cap", cap, f"a number >= base ({base})")
        if jitter not in JITTERS:
            raise ConfigError("jitter", jitter, f"one of {', '.join(JITTERS)}")
        self.jitter = jitter
        if isinstance(budget, _Default):
            budget = RetryBudget(0.2, min_per_second=1.0, window=10.0, clock=clock)
        elif budget is not None and not isinstance(budget, RetryBudget):
            raise ConfigError("budget", budget, "a RetryBudget or None")
        self.budget: RetryBudget | None = budget
        self.attempt_timeout = (
            None if attempt_timeout is None else number("attempt_timeout", attempt_timeout)
        )
        self.failover_after = (
            None
            if failover_after is None
            else number("failover_after", failover_after, inclusive=True)
        )
        if isinstance(max_requeues, bool) or not isinstance(max_requeues, int) or max_requeues < 0:
            raise ConfigError("max_requeues", max_requeues, "an int >= 0")
        self.max_requeues = max_requeues
        self._clock = clock
        self._random = random if random is not None else _random.Random()
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)

    def backoff(self, retry: int) -> float:
        """The jittered wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(retry - 1, 64))
        if self.jitter == "full":
            return self._random.uniform(0.0, ceiling)
        if self.jitter == "equal":
            return ceiling / 2 + self._random.uniform(0.0, ceiling / 2)
        return ceiling

    async def __call__(self, call: Call, handler: Handler) -> Any:
        clock = clock_of(self._clock)
        budget = self.budget
        if budget is not None:
            budget.deposit(call.provider, clock.monotonic())
        retry = 0
        requeued = 0
        while True:
            try:
                if self.attempt_timeout is None:
                    return await handler(call)
                return await self._attempt(call, handler, clock)
            except ProviderError as exc:
                failure = exc.failure
                if isinstance(exc, DeadlineExceeded) or not failure.retryable:
                    raise
                run = current_run()
                last = run.last if run is not None else None
                if last is not None and last.paced:
                    # A rate limiter inside slowed its key down for this 429: sending
                    # again waits at the head of its queue at the new pace. A backoff
                    # here would only add to that wait, and a 429 the limiter paces is
                    # no outage: it spends neither attempts nor the retry budget. The
                    # deadline bounds it; a call without one, max_requeues.
                    requeued += 1
                    if run is not None and run.deadline is None and requeued > self.max_requeues:
                        raise
                    emit(RetryScheduled, call, self._hooks, delay=0.0, failure=failure)
                    continue
                retry += 1
                if retry >= self.attempts:
                    raise
                delay = self.backoff(retry)
                if failure.retry_after is not None and failure.retry_after > delay:
                    delay = failure.retry_after
                remaining = run.remaining() if run is not None else None
                if remaining is not None and delay >= remaining:
                    # Sleeping would only burn the time an outer Fallback needs.
                    raise
                if (
                    self.failover_after is not None
                    and delay > self.failover_after
                    and failure.failover
                    and run is not None
                    and run.alternatives
                ):
                    # Another target can take the call now; waiting here is what makes
                    # fallbacks fire late.
                    raise
                reopens = run.blocked_until(call) if run is not None else None
                if reopens is not None and reopens > clock.monotonic() + delay:
                    # This failure opened the target's breaker: the retry would be
                    # refused, so hand over to Fallback now instead of after the wait.
                    raise
                if budget is not None and not budget.withdraw(call.provider, clock.monotonic()):
                    raise
                emit(RetryScheduled, call, self._hooks, delay=delay, failure=failure)
                await clock.sleep(delay)

    async def _attempt(self, call: Call, handler: Handler, clock: Clock) -> Any:
        limit = self.attempt_timeout
        if limit is None:
            return await handler(call)
        task = asyncio.current_task()
        assert task is not None
        timer = _AttemptTimer()

        def fire() -> None:
            if not task.done():
                timer.failure = Failure.of(
                    Kind.TIMEOUT,
                    code="attempt_timeout",
                    message=f"attempt exceeded attempt_timeout={limit}s",
                    provider=call.provider,
                )
                task.cancel()

        handle = clock.call_at(clock.monotonic() + limit, fire)
        token = _TIMER.set(timer)
        try:
            result = await handler(call)
        except asyncio.CancelledError as exc:
            if timer.failure is not None and task.uncancel() == 0:
                raise ProviderError(timer.failure, call=call) from exc
            raise
        except BaseException:
            if timer.failure is not None:
                task.uncancel()
            raise
        else:
            if timer.failure is not None:
                # The handler swallowed our cancellation and still answered.
                task.uncancel()
            return result
        finally:
            handle.cancel()
            _TIMER.reset(token)

    def __repr__(self) -> str:
        return (
            f"Retry({self.attempts}, base={self.base}, cap={self.cap}, jitter={self.jitter!r}, "
            f"budget={self.budget!r}, attempt_timeout={self.attempt_timeout}, "
            f"failover_after={self.failover_after}, max_requeues={self.max_requeues})"
        )
