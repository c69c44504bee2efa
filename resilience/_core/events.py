"""What the pipeline tells its subscribers.

Every event is a frozen dataclass. A subscriber is a :class:`Hook` (an object
with ``on_event``) or a plain callable taking the event; it is called
synchronously, in the task of the call, and must not block. A subscriber that
raises is logged and ignored: observing a call never breaks it.
OpenTelemetry (:mod:`resilience.telemetry`) is one such subscriber.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from resilience._core.call import Call
from resilience._core.failure import Failure
from resilience._core.frozen import fast_init

__all__ = [
    "AttemptEnded",
    "AttemptStarted",
    "BreakerReject",
    "BreakerStateChange",
    "CallEnded",
    "CallStarted",
    "Degraded",
    "Event",
    "FallbackHop",
    "Hook",
    "RateLimitWait",
    "RetryScheduled",
    "StreamEnded",
    "StreamMalformed",
    "StreamResumed",
    "StreamStarted",
    "Subscriber",
]


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Common fields. ``call`` is the call as it stood where the event arose
    (after fallback or degradation); ``call_id`` ties the events of one
    logical call together; ``attempt`` is the 0-based attempt number when the
    event happened inside an attempt."""

    call: Call | None
    call_id: int = 0
    attempt: int | None = None
    time: float = 0.0


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CallStarted(Event):
    pass


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnded(Event):
    duration: float
    error: BaseException | None = None
    failure: Failure | None = None
    usage: Mapping[str, int] | None = None
    response_model: str | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptStarted(Event):
    pass


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class AttemptEnded(Event):
    duration: float
    error: BaseException | None = None
    failure: Failure | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimitWait(Event):
    key: str
    wait: float
    dimension: str  # "requests", "tokens", "concurrency" or "pushback"


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerReject(Event):
    key: str
    retry_after: float | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class BreakerStateChange(Event):
    key: str
    old: str
    new: str
    failure: Failure | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class RetryScheduled(Event):
    delay: float
    failure: Failure | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class FallbackHop(Event):
    from_target: str
    to_target: str
    reason: str  # the failure kind, or "circuit_open"
    failure: Failure | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class Degraded(Event):
    target: str
    feature: str


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStarted(Event):
    """A streamed attempt delivered its first chunk (the commit point): its
    ``AttemptEnded`` follows at once, its ``StreamEnded`` when it ends."""


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StreamEnded(Event):
    """A stream ended. With ``attempt`` set: that attempt's stream (``chunks``
    it delivered, ``error`` if it broke). With ``attempt`` None: the caller's
    whole stream (``chunks`` the caller received, ``resumes`` continuations,
    ``error`` the final one, if any)."""

    chunks: int
    error: BaseException | None = None
    failure: Failure | None = None
    resumes: int = 0


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StreamResumed(Event):
    """``to_target`` is asked to continue a stream of ``from_target`` that
    broke after the caller received ``chunks`` chunks (``attempt`` is the
    broken one); ``mechanism`` is how (``prefill``, ``continue_final_message``,
    or ``restart`` when no text had reached the caller yet)."""

    from_target: str
    to_target: str
    mechanism: str
    chunks: int
    failure: Failure | None = None


@fast_init
@dataclass(frozen=True, slots=True, kw_only=True)
class StreamMalformed(Event):
    """A stream event could not be decoded (not valid JSON)."""


@runtime_checkable
class Hook(Protocol):
    """A subscriber to pipeline events.

    A hook may also have a boolean ``active`` attribute or property: while it
    is False, the pipeline builds no events for it (checked once per call),
    so a subscriber with nowhere to send them costs nothing.
    """

    def on_event(self, event: Event) -> None: ...


Subscriber = Hook | Callable[[Event], Any]


def as_callback(subscriber: Subscriber) -> Callable[[Event], Any]:
    """Normalise a :class:`Hook` or a callable into a callable."""
    if isinstance(subscriber, Hook):
        return subscriber.on_event
    if callable(subscriber):
        return subscriber
    from resilience._core.errors import ConfigError

    raise ConfigError("hooks", subscriber, "objects with on_event(event) or callables")
