"""Where shared state lives: the store interfaces, the in-memory defaults, Redis.

``RateLimiter(store=...)`` takes a :class:`LimiterStore`, ``CircuitBreaker(store=...)``
a :class:`BreakerStore`. Both default to in-memory stores private to the process;
:class:`RedisStore` is both at once, for limits and breakers shared by many
worker processes::

    import redis.asyncio as redis
    from resilience.store import RedisStore

    store = RedisStore(redis.Redis.from_url("redis://localhost:6379/0"))
    limiter = RateLimiter({"openai": Limit(rpm=500)}, store=store)
    breaker = CircuitBreaker(store=store)

``RedisStore`` needs the ``redis`` extra (``pip install 'llm-resilience[redis]'``);
it is imported on first use, so the rest of this module works without it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resilience._store.breaker import BreakerRecord, BreakerStore, MemoryBreakerStore
from resilience._store.limiter import Grant, LimiterStore, MemoryStore, Rates

if TYPE_CHECKING:
    from resilience._redis.store import RedisStore

__all__ = [
    "BreakerRecord",
    "BreakerStore",
    "Grant",
    "LimiterStore",
    "MemoryBreakerStore",
    "MemoryStore",
    "Rates",
    "RedisStore",
]


def __getattr__(name: str) -> Any:
    if name == "RedisStore":
        from resilience._redis.store import RedisStore

        return RedisStore
    raise AttributeError(f"module 'resilience.store' has no attribute {name!r}")
