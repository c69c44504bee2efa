"""A permit: one admitted call's claim on its key, settled exactly once.

The middleware settles permits itself. Adapters for hosts that cannot wrap
the call (LiteLLM and LangChain callbacks, with separate pre- and post-hooks)
use :meth:`RateLimiter.acquire` and then call exactly one of
:meth:`Permit.release` (success) or :meth:`Permit.fail`; both are
synchronous, idempotent, and safe from any callback on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from resilience._call import Call
from resilience._clock import Clock
from resilience._context import AttemptState
from resilience._failure import Failure
from resilience._usage import usage_of

if TYPE_CHECKING:
    from resilience._limit import KeyState
    from resilience._limiter import RateLimiter

__all__ = ["Permit"]

_LATENCY_WEIGHT = 0.2  # of the newest sample in the key's smoothed latency


def _tokens_used(usage: Any) -> int | None:
    if usage is None:
        return None
    if type(usage) is tuple and len(usage) == 2:
        a, b = usage
        if type(a) is int and type(b) is int and a >= 0 and b >= 0:
            return a + b  # what usage_of returns: already checked
        found = usage_of({"input_tokens": a, "output_tokens": b})
    elif isinstance(usage, Mapping):
        found = usage_of(None, usage)
    else:
        found = usage_of(usage)
    return None if found is None else found[0] + found[1]


class Permit:
    """One admitted call. ``key`` is None when the call was not limited."""

    __slots__ = (
        "_clock",
        "_done",
        "_limiter",
        "_mark",
        "_slot",
        "_state",
        "call",
        "sent_at",
        "tokens",
    )

    def __init__(
        self,
        limiter: RateLimiter,
        state: KeyState | None,
        call: Call,
        clock: Clock,
        sent_at: float,
        tokens: float,
        mark: float,
        *,
        slot: bool,
    ) -> None:
        self._limiter = limiter
        self._state = state
        self._clock = clock
        self._mark = mark
        self._slot = slot
        self._done = False
        self.call = call
        self.sent_at = sent_at
        self.tokens = tokens

    @property
    def key(self) -> str | None:
        return self._state.name if self._state is not None else None

    @property
    def settled(self) -> bool:
        return self._done

    def _finish(self, ok: bool) -> tuple[KeyState, float] | None:
        """Settle once: give the slot back, note the answer; None if settled already."""
        if self._done:
            return None
        self._done = True
        state = self._state
        if state is None:
            return None
        now = self._clock.monotonic()
        lim = self._limiter
        if self._slot:
            self._slot = False
            lim._free_slot(state)
        if state.probing:
            lim._answered(state, self._clock, ok)
        took = now - self.sent_at
        state.latency += _LATENCY_WEIGHT * (took - state.latency)
        return state, now

    def release(self, usage: Any = None, headers: Mapping[str, str] | Any | None = None) -> None:
        """The call succeeded. ``usage``: ``{"input_tokens", "output_tokens"}``
        (or the provider's field names), an ``(input, output)`` pair, or the
        result itself; unknown usage keeps the reservation as it was."""
        done = self._finish(True)
        if done is None:
            return
        state, now = done
        lim = self._limiter
        used = _tokens_used(usage)
        if used is not None:
            lim._adjust(state, now, used - self.tokens, self._mark)
        if headers is not None:
            lim._sync_headers(state, headers, now, force=False)
        learner = state.adaptive
        if learner is not None and learner.rate is not None:
            learner.on_success(now, self.sent_at, state.known_rps())
            lim._recompute(state)

    def fail(self, failure: Failure, headers: Mapping[str, str] | Any | None = None) -> None:
        """The call failed with ``failure``. Nothing was generated, so the output
        reservation comes back; a rate limit holds the key and slows it down."""
        done = self._finish(False)
        if done is None:
            return
        state, now = done
        lim = self._limiter
        if self.call.max_output_tokens:
            lim._adjust(state, now, -float(self.call.max_output_tokens), self._mark)
        info = lim._sync_headers(state, headers, now, force=True) if headers is not None else None
        lim._feedback_failure(state, failure, now, self.sent_at, info, self.tokens)

    def abandon(self) -> None:
        """The call ended without an answer (cancelled, or a bug in the
        handler): the slot comes back, the reservation stands (it may have
        reached the provider)."""
        self._finish(False)

    def answered(self, headers: Mapping[str, str] | Any | None) -> None:
        """A streamed answer started: resync now, settle when the stream ends."""
        state = self._state
        if state is None or self._done:
            return
        if headers is not None:
            self._limiter._sync_headers(state, headers, self._clock.monotonic(), force=False)

    def end_stream(self, error: BaseException | None, attempt: AttemptState | None) -> None:
        """The stream this permit admitted ended (``error`` when it broke).

        A broken stream has generated part of its answer, so its reservation
        stands; a rate limit announced mid-stream still holds the key."""
        if error is None:
            self.release(attempt.usage if attempt is not None else None)
            return
        done = self._finish(False)
        failure = getattr(error, "failure", None)
        if done is not None and isinstance(failure, Failure):
            state, now = done
            self._limiter._feedback_failure(state, failure, now, self.sent_at)

    def __repr__(self) -> str:
        state = "settled" if self._done else "open"
        return f"<Permit {self.key} {state}>"
