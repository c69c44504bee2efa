"""Retry: try the same target again, but only when it can help.

- Only failures the classifier marks ``retryable`` (rate limits, 5xx,
  timeouts, dropped connections) are retried; a ``CircuitOpenError``, a bad
  request or a bug in the handler goes straight out.
- An outage (a failure that trips a breaker: 5xx, 529, timeouts, dropped
  connections) inside a Fallback that still has targets is not retried
  here: another target takes the call at once. Fallback comes back here
  when none of them could serve, and then Retry waits as below.
- A 429 that a rate limiter inside has paced is sent again at once: the
  limiter's queue does the waiting (see :mod:`resilience._limiter`).
- Otherwise waits grow exponentially with jitter up to ``cap``, and are at
  least the provider's ``retry_after``; inside a Fallback with targets left,
  a wait longer than ``failover_after`` hands the call over instead.
- A wait that would end past the call's deadline is not started: the last
  error is raised at once, so an outer :class:`~resilience.Fallback` can use
  the time left on another target.
- A :class:`~resilience._retry.budget.RetryBudget` per provider caps retries at a
  share of the calls, so retries cannot multiply the load of an outage.
- A hung attempt: for a call with a deadline, each attempt gets by default
  an equal share of the time left with the targets still to try, so a
  silent provider cannot eat the whole deadline before the others get a
  turn (``attempt_timeout``).
- Streams: the pipeline hands a stream back only after its first chunk, so
  everything this middleware sees is pre-output; an error in the middle of a
  stream reaches the caller and is never retried.
"""

from __future__ import annotations

import asyncio
import random as _random
from collections.abc import Callable, Sequence
from typing import Any, Final

from resilience._core.call import Call, Handler
from resilience._core.clock import Clock
from resilience._core.context import (
    AttemptState,
    RunContext,
    clock_of,
    current_run,
    emit,
    random_of,
)
from resilience._core.errors import ConfigError, DeadlineExceeded, ProviderError
from resilience._core.events import Event, RetryScheduled, Subscriber, as_callback
from resilience._core.failure import Failure, Kind
from resilience._core.validate import number
from resilience._retry.budget import RetryBudget

__all__ = ["JITTERS", "SPLIT", "Retry"]

JITTERS: Final = ("full", "equal", "none")

SPLIT: Final = "split"
"""``attempt_timeout`` default: for a call with a deadline and other targets
left, an attempt may take the time left divided by the targets (this one
included); otherwise only the deadline bounds it."""


class _Default:
    def __repr__(self) -> str:
        return "RetryBudget()"


_DEFAULT_BUDGET: Final = _Default()


def _hand_over(attempt: AttemptState | None) -> None:
    if attempt is not None:
        attempt.handed_over = True


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
    against the breaker, when one sits inside): seconds, ``"split"`` (the
    default: a share of the call's deadline, see :data:`SPLIT`) or None.

    An outage inside a :class:`Fallback` that still has another target goes
    there at once. ``failover_after`` (seconds, default 0.5): likewise, any
    other failure that another target may serve is not retried here when the
    wait would be longer than this. ``None`` always retries here first.

    A 429 that a :class:`RateLimiter` inside has paced (it slowed its key
    down, so the call only has to wait its turn there) is sent again at once:
    it counts against neither ``attempts`` nor the budget, and only the
    call's deadline bounds it (``max_requeues`` for a call without one).
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
        attempt_timeout: float | str | None = SPLIT,
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
        self.attempt_timeout: float | str | None
        if attempt_timeout is None or attempt_timeout == SPLIT:
            self.attempt_timeout = attempt_timeout
        elif isinstance(attempt_timeout, str):
            raise ConfigError("attempt_timeout", attempt_timeout, 'seconds, "split" or None')
        else:
            self.attempt_timeout = number("attempt_timeout", attempt_timeout)
        self.failover_after = (
            None
            if failover_after is None
            else number("failover_after", failover_after, inclusive=True)
        )
        if isinstance(max_requeues, bool) or not isinstance(max_requeues, int) or max_requeues < 0:
            raise ConfigError("max_requeues", max_requeues, "an int >= 0")
        self.max_requeues = max_requeues
        self._clock = clock
        self._random = random
        self._fallback_random = _random.Random()  # outside a pipeline without random=
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)

    def backoff(self, retry: int) -> float:
        """The jittered wait before retry number ``retry`` (1 for the first)."""
        ceiling = min(self.cap, self.base * 2.0 ** min(retry - 1, 64))
        rng = random_of(self._random, self._fallback_random)
        if self.jitter == "full":
            return rng.uniform(0.0, ceiling)
        if self.jitter == "equal":
            return ceiling / 2 + rng.uniform(0.0, ceiling / 2)
        return ceiling

    def attempt_limit(self, run: RunContext | None) -> float | None:
        """Seconds the next attempt may take (None: only the deadline bounds it)."""
        limit = self.attempt_timeout
        if limit != SPLIT:
            return limit  # type: ignore[return-value]
        if run is None or run.deadline is None or not run.alternatives:
            return None
        remaining = run.remaining()
        if remaining is None or remaining <= 0.0:
            return None
        return remaining / (1 + len(run.alternatives))

    async def __call__(self, call: Call, handler: Handler) -> Any:
        clock = clock_of(self._clock)
        budget = self.budget
        if budget is not None:
            budget.deposit(call.provider, clock.monotonic())
        retry = 0
        requeued = 0
        while True:
            # Without a timeout the call has no deadline to share (the common case:
            # no run lookup on the way to a first success).
            limit = None
            run = None
            timeout = self.attempt_timeout
            if timeout is not None and (timeout != SPLIT or call.timeout is not None):
                run = current_run()
                limit = self.attempt_limit(run)
            try:
                if limit is None:
                    return await handler(call)
                return await self._attempt(call, handler, clock, limit, run)
            except ProviderError as exc:
                if run is None:
                    run = current_run()
                failure = exc.failure
                if isinstance(exc, DeadlineExceeded) or not failure.retryable:
                    raise
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
                if (
                    failure.trips_breaker
                    and self.failover_after is not None
                    and run is not None
                    and run.alternatives
                ):
                    # An outage, and another target is left: it takes the call now.
                    # Retrying here would only wait on a provider that is failing.
                    _hand_over(last)
                    raise
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
                    _hand_over(last)
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

    async def _attempt(
        self, call: Call, handler: Handler, clock: Clock, limit: float, run: RunContext | None
    ) -> Any:
        task = asyncio.current_task()
        assert task is not None
        fired: Failure | None = None

        def fire() -> None:
            nonlocal fired
            if task.done():
                return
            fired = Failure.of(
                Kind.TIMEOUT,
                code="attempt_timeout",
                message=f"attempt exceeded its time limit of {limit:.3g}s",
                provider=call.provider,
            )
            attempt = run.last if run is not None else None
            if attempt is not None:
                # Layers inside see a cancellation; this tells them it was a timeout.
                attempt.timed_out = fired
            task.cancel()

        handle = clock.call_at(clock.monotonic() + limit, fire)
        try:
            result = await handler(call)
        except asyncio.CancelledError as exc:
            if fired is not None and task.uncancel() == 0:
                raise ProviderError(fired, call=call) from exc
            raise
        except BaseException:
            if fired is not None:
                task.uncancel()
            raise
        else:
            if fired is not None:
                # The handler swallowed our cancellation and still answered.
                task.uncancel()
            return result
        finally:
            handle.cancel()

    def __repr__(self) -> str:
        return (
            f"Retry({self.attempts}, base={self.base}, cap={self.cap}, jitter={self.jitter!r}, "
            f"budget={self.budget!r}, attempt_timeout={self.attempt_timeout!r}, "
            f"failover_after={self.failover_after}, max_requeues={self.max_requeues})"
        )
