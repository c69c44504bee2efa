"""Where state shared between processes lives: the store interfaces and
their in-memory defaults (Redis is in :mod:`resilience._redis`).

- :mod:`.limiter`: :class:`LimiterStore` (bucket state per key: reserve,
  adjust, sync, hold) and :class:`MemoryStore`;
- :mod:`.breaker`: :class:`BreakerRecord`, :class:`BreakerStore` and
  :class:`MemoryBreakerStore`.
"""

from resilience._store.breaker import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    STATES,
    BreakerRecord,
    BreakerStore,
    MemoryBreakerStore,
)
from resilience._store.limiter import Grant, LimiterStore, MemoryStore, Rates

__all__ = [
    "STATES",
    "STATE_CLOSED",
    "STATE_HALF_OPEN",
    "STATE_OPEN",
    "BreakerRecord",
    "BreakerStore",
    "Grant",
    "LimiterStore",
    "MemoryBreakerStore",
    "MemoryStore",
    "Rates",
]
