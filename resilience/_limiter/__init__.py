"""The rate limiter, one module per collaborator.

- :mod:`.limiter`: :class:`RateLimiter`, the middleware and the low-level API;
- :mod:`.policy`: how long a call may wait, and when it moves to another target;
- :mod:`.key`: one key's collaborators side by side;
- :mod:`.pace`: the limit in force (configured, stated, learned, slow start);
- :mod:`.window`: the window a stated limit covers, from its numbers;
- :mod:`.queue`: the waiting calls of a key, for turns and for slots;
- :mod:`.feedback`: answers in (usage, headers, 429s), adjustments out;
- :mod:`.permit`: one admitted call, settled exactly once;
- :mod:`.buckets`: the key's bucket state, in the store
  (:mod:`resilience._store`, which also holds the GCRA arithmetic);
- :mod:`.adaptive`: the request rate learned from throttles (CUBIC).
"""

from resilience._limiter.adaptive import AdaptiveRate
from resilience._limiter.limit import KeyStatus, Limit
from resilience._limiter.limiter import RateLimiter
from resilience._limiter.permit import LimiterPermit
from resilience._limiter.queue import LOCAL, SPILLED
from resilience._store.limiter import Grant, LimiterStore, MemoryStore, Rates

__all__ = [
    "LOCAL",
    "SPILLED",
    "AdaptiveRate",
    "Grant",
    "KeyStatus",
    "Limit",
    "LimiterPermit",
    "LimiterStore",
    "MemoryStore",
    "RateLimiter",
    "Rates",
]
