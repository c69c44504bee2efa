"""A permit: one admitted call's claim on its key, settled exactly once.

The middleware settles permits itself. Adapters for hosts that cannot wrap
the call (LiteLLM and LangChain callbacks, with separate pre- and post-hooks)
use :meth:`RateLimiter.acquire` and then call exactly one of
:meth:`LimiterPermit.release` (success) or :meth:`LimiterPermit.fail`; both are
synchronous, idempotent, and safe from any callback on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resilience._core.call import Call
from resilience._core.clock import Clock
from resilience._core.context import AttemptState
from resilience._core.failure import Failure
from resilience._core.usage import usage_of
from resilience._limiter.key import Key

__all__ = ["LimiterPermit"]


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


class LimiterPermit:
    """One admitted call. ``key`` is None when the call was not limited."""

    __slots__ = ("_clock", "_done", "_key", "_mark", "_slot", "call", "sent_at", "tokens")

    def __init__(
        self,
        key: Key | None,
        call: Call,
        clock: Clock,
        sent_at: float,
        tokens: float,
        mark: float,
        *,
        slot: bool,
    ) -> None:
        self._key = key
        self._clock = clock
        self._mark = mark
        self._slot = slot
        self._done = False
        self.call = call
        self.sent_at = sent_at
        self.tokens = tokens

    @property
    def key(self) -> str | None:
        return self._key.name if self._key is not None else None

    @property
    def settled(self) -> bool:
        return self._done

    def _finish(self, ok: bool) -> tuple[Key, float] | None:
        """Settle once: give the slot back, note the answer; None if settled already."""
        if self._done:
            return None
        self._done = True
        key = self._key
        if key is None:
            return None
        now = self._clock.monotonic()
        if self._slot:
            self._slot = False
            key.queue.free_slot()
        if not ok:
            key.feedback.answered(self._clock, now, self.sent_at, ok)
        return key, now

    def release(self, usage: Any = None, headers: Mapping[str, str] | Any | None = None) -> None:
        """The call succeeded. ``usage``: ``{"input_tokens", "output_tokens"}``
        (or the provider's field names), an ``(input, output)`` pair, or the
        result itself; unknown usage keeps the reservation as it was."""
        done = self._finish(True)
        if done is None:
            return
        key, now = done
        used = _tokens_used(usage) if usage is not None else None
        extra = used - self.tokens if used is not None else 0.0
        key.feedback.succeeded(now, self.sent_at, extra, self._mark, headers, self._clock)

    def fail(self, failure: Failure, headers: Mapping[str, str] | Any | None = None) -> bool:
        """The call failed with ``failure``. Nothing was generated, so the output
        reservation comes back; a rate limit slows the key down. Returns True
        when the key now paces that 429: sending the call again waits its
        turn at the new pace (no backoff of its own needed)."""
        done = self._finish(False)
        if done is None:
            return False
        key, now = done
        refund = float(self.call.max_output_tokens)
        return key.feedback.failed(
            now, self.sent_at, failure, headers, self.tokens, refund, self._mark
        )

    def abandon(self) -> None:
        """The call ended without an answer (cancelled, or a bug in the
        handler): the slot comes back, the reservation stands (it may have
        reached the provider)."""
        self._finish(False)

    def answered(self, headers: Mapping[str, str] | Any | None) -> None:
        """A streamed answer started: resync now, settle when the stream ends."""
        key = self._key
        if key is None or self._done or headers is None:
            return
        key.feedback.read_headers(self._clock.monotonic(), headers, force=False)

    def end_stream(self, error: BaseException | None, attempt: AttemptState | None) -> None:
        """The stream this permit admitted ended (``error`` when it broke).

        A broken stream has generated part of its answer, so its reservation
        stands; a rate limit announced mid-stream still slows the key."""
        if error is None:
            self.release(attempt.usage if attempt is not None else None)
            return
        done = self._finish(False)
        failure = getattr(error, "failure", None)
        if done is not None and isinstance(failure, Failure):
            key, now = done
            key.feedback.throttled(now, self.sent_at, failure, None)

    def __repr__(self) -> str:
        state = "settled" if self._done else "open"
        return f"<LimiterPermit {self.key} {state}>"
