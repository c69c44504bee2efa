"""What :meth:`CircuitBreaker.allow` hands out, and who hears its changes.

Callback-style adapters cannot wrap the call in the breaker middleware: they
take a :class:`BreakerPermit` before the host sends the request and report the
outcome afterwards, from any callback on the event loop.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator
from typing import Any, Protocol, runtime_checkable

from resilience._core.call import Call
from resilience._core.failure import Failure

__all__ = ["BreakerListener", "BreakerPermit"]

Entries = list[tuple[str, int, bool]]  # (key, generation at admission, is a probe)


@runtime_checkable
class BreakerListener(Protocol):
    """Told about every state change (a callable taking the
    ``BreakerStateChange`` event works too)."""

    def on_state_change(self, key: str, old: str, new: str) -> None: ...


class _Settles(Protocol):
    def _settle(
        self, call: Call, entries: Entries, outcome: str, failure: Failure | None
    ) -> None: ...


class BreakerPermit:
    """Admission of one call: report exactly one outcome.

    ``success()``, ``failure(failure)`` (a failure that does not trip the
    breaker is no verdict) or ``cancel()`` (no verdict; frees a half-open
    probe slot). Later reports are ignored, so reporting twice is harmless.
    Awaitable: ``await breaker.allow(call)`` gives the permit too.
    """

    __slots__ = ("_breaker", "_call", "_done", "_entries")

    def __init__(self, breaker: _Settles, call: Call, entries: Entries) -> None:
        self._breaker = breaker
        self._call = call
        self._entries = entries
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    @property
    def probing(self) -> bool:
        """True when this call is a half-open probe for at least one key."""
        return any(probe for _, _, probe in self._entries)

    def success(self) -> None:
        self._finish("success", None)

    def failure(self, failure: Failure) -> None:
        self._finish("failure", failure)

    def cancel(self) -> None:
        self._finish("cancel", None)

    def stream_ended(self, error: BaseException | None) -> None:
        """The stream this permit admitted ended: a clean end (or the caller
        closing it) is a success, a classified break a failure, anything
        else (a cancellation) no verdict."""
        failure = getattr(error, "failure", None)
        if error is None:
            self.success()
        elif isinstance(failure, Failure):
            self.failure(failure)
        else:
            self.cancel()

    def _finish(self, outcome: str, failure: Failure | None) -> None:
        if self._done:
            return
        self._done = True
        self._breaker._settle(self._call, self._entries, outcome, failure)

    def __await__(self) -> Generator[Any, None, BreakerPermit]:
        return self
        yield  # pragma: no cover - makes this a generator

    def __del__(self) -> None:
        # A permit dropped without a verdict must not hold a probe slot forever.
        if not self._done and self.probing:
            self._done = True
            with contextlib.suppress(Exception):  # interpreter shutdown
                self._breaker._settle(self._call, self._entries, "cancel", None)
