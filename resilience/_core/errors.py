"""Errors raised by resilience.

The hierarchy::

    ResilienceError                 every error this library raises; .call, .failure
    ├── ProviderError               a provider or transport failure, classified;
    │   │                           .failure says what it was, __cause__ is the original
    │   ├── DeadlineExceeded        the call's own deadline (Call.timeout) ran out
    │   └── StreamInterrupted       a stream broke after its first chunk and no target
    │                               continued it; .partial is the text already received,
    │                               .errors each continuation tried
    ├── CircuitOpenError            rejected without a request: the target's breaker
    │                               is open; .key, .retry_after
    ├── FallbackExhausted           every target failed; .errors holds each one's error
    └── ConfigError                 bad configuration (also a ValueError); names the
                                    field and the value

Messages never contain API keys, headers, prompts or completions: a
``ProviderError``'s message is built from the redacted ``Failure.message``
only, and ``StreamInterrupted.partial`` stays out of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resilience._core.call import Call
    from resilience._core.failure import Failure

__all__ = [
    "CircuitOpenError",
    "ConfigError",
    "DeadlineExceeded",
    "FallbackExhausted",
    "ProviderError",
    "ResilienceError",
    "StreamInterrupted",
]


class ResilienceError(Exception):
    """Base of every error this library raises."""

    call: Call | None
    failure: Failure | None

    def __init__(
        self, message: str, *, call: Call | None = None, failure: Failure | None = None
    ) -> None:
        super().__init__(message)
        self.call = call
        self.failure = failure


def _where(call: Call | None) -> str:
    return f" [{call.provider}/{call.model}]" if call is not None else ""


class ProviderError(ResilienceError):
    """A failed attempt, classified. ``failure`` is never None here."""

    failure: Failure

    def __init__(self, failure: Failure, *, call: Call | None = None) -> None:
        status = f" {failure.status}" if failure.status is not None else ""
        text = f": {failure.message}" if failure.message else ""
        super().__init__(
            f"{failure.kind.value}{status}{_where(call)}{text}", call=call, failure=failure
        )


class DeadlineExceeded(ProviderError):
    """The logical call's deadline passed before a result arrived."""


class StreamInterrupted(ProviderError):
    """A stream failed after its first chunk reached the caller, and was not
    resumed (resume off, or no target could continue it).

    ``failure`` is the mid-stream failure itself, never that of a target
    asked to continue (a refused prefill does not replace the outage);
    ``partial`` is the text the caller already received (None when the
    stream's format is unknown to the library); ``chunks`` how many chunks
    it received; ``errors`` pairs each target asked to continue with its
    error. ``partial`` holds completion text: it is never part of
    ``str(error)``.
    """

    def __init__(
        self,
        failure: Failure,
        *,
        call: Call | None = None,
        partial: str | None = None,
        chunks: int = 0,
        errors: Sequence[tuple[str, BaseException]] = (),
    ) -> None:
        super().__init__(failure, call=call)
        self.partial = partial
        self.chunks = chunks
        self.errors: tuple[tuple[str, BaseException], ...] = tuple(errors)


class CircuitOpenError(ResilienceError):
    """The breaker for ``key`` is open; no request was sent."""

    def __init__(
        self,
        key: str,
        *,
        retry_after: float | None = None,
        call: Call | None = None,
        failure: Failure | None = None,
    ) -> None:
        wait = f"; retry in {retry_after:.2f}s" if retry_after is not None else ""
        super().__init__(f"circuit open for {key}{wait}", call=call, failure=failure)
        self.key = key
        self.retry_after = retry_after


class FallbackExhausted(ResilienceError):
    """No target could serve the call. ``errors`` pairs each target with its error."""

    def __init__(
        self,
        errors: Sequence[tuple[str, BaseException]],
        *,
        call: Call | None = None,
    ) -> None:
        self.errors: tuple[tuple[str, BaseException], ...] = tuple(errors)
        last = self.errors[-1][1] if self.errors else None
        failure = getattr(last, "failure", None)
        parts = ", ".join(f"{target}: {_describe(err)}" for target, err in self.errors)
        super().__init__(
            f"all {len(self.errors)} targets failed ({parts})", call=call, failure=failure
        )


def _describe(err: BaseException) -> str:
    failure: Failure | None = getattr(err, "failure", None)
    return type(err).__name__ + (f" {failure.kind.value}" if failure is not None else "")


class ConfigError(ResilienceError, ValueError):
    """A setting is wrong. The message names the field and the value."""

    def __init__(self, field: str, value: Any, expected: str) -> None:
        super().__init__(f"{field}={value!r} is invalid: expected {expected}")
        self.field = field
        self.value = value
