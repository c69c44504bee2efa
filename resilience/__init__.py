"""resilience: asyncio resilience middleware for LLM calls.

A :class:`Pipeline` of middlewares (rate limiter, circuit breaker, retry,
fallback) around the application's own LLM call, with every provider failure
classified into a :class:`Failure` of a :class:`Kind` and a :class:`Bucket`.
"""

from resilience._breaker import CircuitBreaker
from resilience._breaker_permit import BreakerListener
from resilience._breaker_store import BreakerRecord, BreakerStore, MemoryBreakerStore
from resilience._budget import RetryBudget
from resilience._call import Call, Handler
from resilience._classify import classify
from resilience._clock import Clock, FakeClock, SystemClock
from resilience._context import current_attempt, current_run, report
from resilience._continuations import Continuations
from resilience._errors import (
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    FallbackExhausted,
    ProviderError,
    ResilienceError,
    StreamInterrupted,
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
    StreamEnded,
    StreamMalformed,
    StreamResumed,
    StreamStarted,
)
from resilience._failure import Bucket, Failure, Kind
from resilience._fallback import Fallback
from resilience._guard import Guard, Ticket
from resilience._limit import Limit
from resilience._limiter import RateLimiter
from resilience._models import ContextWindows
from resilience._pipeline import Middleware, Pipeline
from resilience._ratelimit_headers import RateLimitInfo, parse_ratelimit_headers
from resilience._retry import Retry

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
