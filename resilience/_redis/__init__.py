"""Limiter and breaker state in Redis, for many worker processes.

- :mod:`.store`: :class:`~resilience.store.RedisStore`, both store interfaces at once;
- :mod:`.link`: the connection, its health and reconnection;
- :mod:`.scripts`: the Lua scripts, one atomic round trip per operation;
- :mod:`.breakers`: breaker records shared by pub/sub and periodic reads.

Nothing here is imported until a :class:`RedisStore` is asked for, so the
rest of the library works without the ``redis`` package.
"""
