"""resilience: asyncio resilience middleware for LLM calls.

A :class:`Pipeline` of middlewares (rate limiter, circuit breaker, retry,
fallback) around the application's own LLM call, with every provider failure
classified into a :class:`Failure` of a :class:`Kind` and a :class:`Bucket`.
"""

from resilience._call import Call, Handler
from resilience._classify import classify
from resilience._clock import Clock, FakeClock, SystemClock
from resilience._context import current_attempt, current_run, report
from resilience._errors import (
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    FallbackExhausted,
    ProviderError,
    ResilienceError,
)
from resilience._events import (
    AttemptEnded,
    AttemptStarted,
    BreakerReject,
    BreakerStateChange,
    CallEnded,
    CallStarted,
    Degraded,
    Event,
    FallbackHop,
    Hook,
    RateLimitWait,
    RetryScheduled,
)
from resilience._failure import Bucket, Failure, Kind
from resilience._pipeline import Middleware, Pipeline

__all__ = [
    "AttemptEnded",
    "AttemptStarted",
    "BreakerReject",
    "BreakerStateChange",
    "Bucket",
    "Call",
    "CallEnded",
    "CallStarted",
    "CircuitOpenError",
    "Clock",
    "ConfigError",
    "DeadlineExceeded",
    "Degraded",
    "Event",
    "Failure",
    "FakeClock",
    "FallbackExhausted",
    "FallbackHop",
    "Handler",
    "Hook",
    "Kind",
    "Middleware",
    "Pipeline",
    "ProviderError",
    "RateLimitWait",
    "ResilienceError",
    "RetryScheduled",
    "SystemClock",
    "classify",
    "current_attempt",
    "current_run",
    "report",
]

__version__ = "0.1.0"
