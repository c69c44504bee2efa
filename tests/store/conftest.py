"""Fixtures of the Redis store tests: a real redis-server per test, clients, stores."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis

from resilience._redis.store import RedisStore
from tests.store._redis import RedisServer, redis_server_path


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if redis_server_path() is None:
        pytest.skip("redis-server is not installed (CI installs the Debian package redis-server)")
    server = RedisServer(tmp_path).start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.Redis]:
    c = redis.Redis.from_url(redis_server.url)
    yield c
    await c.aclose()


@pytest.fixture
async def make(redis_server: RedisServer) -> AsyncIterator[Callable[..., RedisStore]]:
    """``make(**settings)``: a RedisStore on a client of its own (its own
    connection pool, as another process would have), closed after the test."""
    stores: list[RedisStore] = []
    clients: list[redis.Redis] = []

    def factory(**kwargs: Any) -> RedisStore:
        c = redis.Redis.from_url(redis_server.url)
        clients.append(c)
        kwargs.setdefault("prefix", "t")
        store = RedisStore(c, **kwargs)
        stores.append(store)
        return store

    yield factory
    for s in stores:
        await s.aclose()
    for c in clients:
        await c.aclose()
