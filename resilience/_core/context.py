"""Per-call and per-attempt state, carried in context variables.

A middleware keeps the fixed shape ``async (call, handler)``; what it needs
beyond the call (the clock, the deadline, the subscribers, the attempt
number, what the provider reported) it finds here. Outside a
:class:`~resilience.Pipeline` there is no run context and components fall
back to their own settings.
"""

from __future__ import annotations

import itertools
import logging
import random as _random
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from resilience._core.call import Call
from resilience._core.clock import Clock, SystemClock
from resilience._core.events import Event
from resilience._core.failure import Failure

__all__ = [
    "LOCAL_HOLD",
    "NO_ALTERNATIVES",
    "SPILLED",
    "AttemptState",
    "RunContext",
    "current_attempt",
    "current_run",
    "emit",
    "random_of",
    "report",
]

LOCAL_HOLD = "local_rate_limit"
"""``Failure.code`` of a call a rate limiter refused before sending it: its
wait would pass its deadline. Nothing was sent; another target may serve it."""

SPILLED = "local_spill"
"""``Failure.code`` of a call a rate limiter moved on because another target
(``RunContext.alternatives``) could start it sooner. Nothing was sent; on its
last target such a call waits instead (Fallback comes back to it)."""

NO_ALTERNATIVES: Sequence[Call] = ()

log = logging.getLogger("resilience")

_ids = itertools.count(1)
_DEFAULT_CLOCK = SystemClock()


class RunContext:
    """The state of one logical call through a pipeline."""

    __slots__ = (
        "alternatives",
        "attempts",
        "blocked",
        "call",
        "call_id",
        "clock",
        "deadline",
        "first_seen",
        "hooks",
        "last",
        "random",
    )

    def __init__(
        self,
        call: Call,
        clock: Clock,
        hooks: tuple[Callable[[Event], Any], ...],
        deadline: float | None,
        random: _random.Random | None = None,
    ) -> None:
        self.call = call
        self.call_id = next(_ids)
        self.clock = clock
        # The pipeline's source of randomness, for the jitter of middlewares
        # that were not given their own.
        self.random = random
        self.hooks = hooks
        self.deadline = deadline
        self.attempts = 0
        self.last: AttemptState | None = None
        # Breaker keys this call saw open, with the time they reopen: lets Retry
        # give up at once instead of sleeping towards a circuit that will refuse it.
        self.blocked: dict[str, float] | None = None
        # Written by Fallback: the targets it would try after the current one,
        # built only when iterated. Retry hands a failure with a long wait to
        # them rather than sleeping here; a rate limiter compares its queue
        # with theirs.
        self.alternatives: Sequence[Call] = NO_ALTERNATIVES
        # Written by a rate limiter: when one first took this call up. Its queues
        # go oldest first, so a call that already waited elsewhere (or was
        # refused with a 429 after its turn) does not start over at the back.
        self.first_seen: float | None = None

    def remaining(self) -> float | None:
        """Seconds left before the deadline, or None without one."""
        if self.deadline is None:
            return None
        return self.deadline - self.clock.monotonic()

    def block(self, key: str, until: float) -> None:
        """Record that breaker ``key`` refuses calls until ``until``."""
        if self.blocked is None:
            self.blocked = {}
        self.blocked[key] = max(until, self.blocked.get(key, until))

    def blocked_until(self, call: Call) -> float | None:
        """When ``call``'s target (or its provider) reopens, if this run saw it close."""
        if not self.blocked:
            return None
        times = [self.blocked[k] for k in (call.target, call.provider) if k in self.blocked]
        return max(times) if times else None


class AttemptState:
    """What one attempt learned from the provider (filled by adapters through
    :func:`report`, and by the pipeline from a failed response)."""

    __slots__ = (
        "handed_over",
        "headers",
        "number",
        "paced",
        "response_model",
        "timed_out",
        "usage",
    )

    def __init__(self, number: int) -> None:
        self.number = number
        self.headers: Mapping[str, str] | None = None
        self.usage: Mapping[str, int] | None = None
        self.response_model: str | None = None
        # Written by a rate limiter: it slowed its key down for this attempt's
        # 429, so sending again waits there at the new pace (Retry need not
        # back off, nor spend its outage budget).
        self.paced = False
        # Written by Retry when its attempt timeout cancelled this attempt: the
        # layers inside see a cancellation, and count this timeout instead.
        self.timed_out: Failure | None = None
        # Written by Retry: it did not retry this attempt's failure only because
        # other targets were left; Fallback comes back if none of them serves.
        self.handed_over = False


_RUN: ContextVar[RunContext | None] = ContextVar("resilience_run", default=None)
_ATTEMPT: ContextVar[AttemptState | None] = ContextVar("resilience_attempt", default=None)


def current_run() -> RunContext | None:
    return _RUN.get()


def current_attempt() -> AttemptState | None:
    return _ATTEMPT.get()


def clock_of(explicit: Clock | None) -> Clock:
    """The clock a component should use: its own, else the pipeline's."""
    if explicit is not None:
        return explicit
    run = _RUN.get()
    return run.clock if run is not None else _DEFAULT_CLOCK


def random_of(explicit: _random.Random | None, fallback: _random.Random) -> _random.Random:
    """The random source a component should use: its own, else the
    pipeline's, else ``fallback`` (outside any pipeline)."""
    if explicit is not None:
        return explicit
    run = _RUN.get()
    if run is not None and run.random is not None:
        return run.random
    return fallback


def report(
    *,
    headers: Mapping[str, str] | None = None,
    usage: Mapping[str, int] | None = None,
    response_model: str | None = None,
) -> None:
    """Tell the pipeline what the provider answered on this attempt.

    Adapters call this from inside the handler: rate-limit headers resync the
    limiter, usage (``{"input_tokens": .., "output_tokens": ..}``) reconciles
    the token reservation, and both reach telemetry. A no-op outside a pipeline.
    """
    state = _ATTEMPT.get()
    if state is None:
        return
    if headers is not None:
        state.headers = headers
    if usage is not None:
        state.usage = usage
    if response_model is not None:
        state.response_model = response_model


def emit(
    event_type: type[Event],
    call: Call | None,
    own_hooks: tuple[Callable[[Event], Any], ...] = (),
    **fields: Any,
) -> None:
    """Send an event to the run's subscribers and the component's own ones.

    Builds the event only if somebody listens, so an unobserved pipeline pays
    nothing for it.
    """
    run = _RUN.get()
    hooks = run.hooks if run is not None else ()
    if own_hooks:
        hooks = hooks + tuple(h for h in own_hooks if h not in hooks)
    if not hooks:
        return
    attempt = _ATTEMPT.get()
    if run is not None:
        clock: Clock = run.clock
        call_id = run.call_id
    else:
        clock = _DEFAULT_CLOCK
        call_id = 0
    try:
        now = clock.monotonic()
    except RuntimeError:  # no running loop: a state change fired from sync code
        now = 0.0
    event = event_type(
        call=call,
        call_id=call_id,
        attempt=attempt.number if attempt is not None else None,
        time=now,
        **fields,
    )
    for hook in hooks:
        try:
            hook(event)
        except Exception:
            log.exception("resilience: subscriber %r failed on %s", hook, event_type.__name__)
