"""resilience: asyncio resilience middleware for LLM calls.

A :class:`Pipeline` of middlewares (rate limiter, circuit breaker, retry,
fallback) around the application's own LLM call, with every provider failure
classified into a :class:`Failure` of a :class:`Kind` and a :class:`Bucket`.
"""

from resilience._breaker import CircuitBreaker
from resilience._breaker.permit import BreakerListener
from resilience._classify.classify import classify
from resilience._core.call import Call, Handler
from resilience._core.clock import Clock, FakeClock, SystemClock
from resilience._core.context import current_attempt, current_run, report
from resilience._core.errors import (
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    FallbackExhausted,
    ProviderError,
    ResilienceError,
    StreamInterrupted,
)
from resilience._core.events import (
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
    StreamEnded,
    StreamMalformed,
    StreamResumed,
    StreamStarted,
)
from resilience._core.failure import Bucket, Failure, Kind
from resilience._core.guard import Guard, Ticket
from resilience._core.headers import RateLimitInfo, parse_ratelimit_headers
from resilience._core.pipeline import Middleware, Pipeline
from resilience._fallback import ContextWindows, Fallback
from resilience._limiter import Limit, RateLimiter
from resilience._retry import Retry, RetryBudget
from resilience._store.breaker import BreakerRecord, BreakerStore, MemoryBreakerStore
from resilience._stream.continuations import Continuations

__all__ = [
    "AttemptEnded",
    "AttemptStarted",
    "BreakerListener",
    "BreakerRecord",
    "BreakerReject",
    "BreakerStateChange",
    "BreakerStore",
    "Bucket",
    "Call",
    "CallEnded",
    "CallStarted",
    "CircuitBreaker",
    "CircuitOpenError",
    "Clock",
    "ConfigError",
    "ContextWindows",
    "Continuations",
    "DeadlineExceeded",
    "Degraded",
    "Event",
    "Failure",
    "FakeClock",
    "Fallback",
    "FallbackExhausted",
    "FallbackHop",
    "Guard",
    "Handler",
    "Hook",
    "Kind",
    "Limit",
    "MemoryBreakerStore",
    "Middleware",
    "Pipeline",
    "ProviderError",
    "RateLimitInfo",
    "RateLimitWait",
    "RateLimiter",
    "ResilienceError",
    "Retry",
    "RetryBudget",
    "RetryScheduled",
    "StreamEnded",
    "StreamInterrupted",
    "StreamMalformed",
    "StreamResumed",
    "StreamStarted",
    "SystemClock",
    "Ticket",
    "classify",
    "current_attempt",
    "current_run",
    "parse_ratelimit_headers",
    "report",
]

__version__ = "0.1.0"
