"""Helpers of the Redis store tests."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from resilience._core.clock import FakeClock
from resilience._redis.store import RedisStore

__all__ = ["reconnect", "redis_warnings", "until"]


async def until(predicate: Callable[[], bool], what: str, limit: float = 5.0) -> None:
    """Wait for background I/O against the real server to land."""
    for _ in range(int(limit / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def reconnect(store: RedisStore, clock: FakeClock) -> None:
    """Move the store's fake clock through reconnection attempts until one lands."""
    for _ in range(40):
        await clock.advance(1.0)
        await asyncio.sleep(0.05)
        if store.healthy:
            return
    raise AssertionError("the store did not reconnect")


def redis_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and "Redis store" in r.getMessage()
    ]
