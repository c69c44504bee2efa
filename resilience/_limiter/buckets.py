"""One key's bucket state, wherever the store keeps it.

The in-memory store answers at once, so on the hot path and from synchronous
callbacks (a stream's end, a framework hook) its ``*_now`` methods are called
directly. Any other store (Redis) is awaited on admission; its updates from
feedback run as tasks of their own, which the limiter keeps until done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from resilience._store.limiter import Grant, LimiterStore, MemoryStore, Rates

__all__ = ["Buckets"]


class Buckets:
    """The store's four operations for one key, plus a side-effect-free peek."""

    __slots__ = ("_mem", "_spawn", "_store", "name")

    def __init__(
        self,
        name: str,
        store: LimiterStore,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
    ) -> None:
        self.name = name
        self._store = store
        self._mem = store if isinstance(store, MemoryStore) else None
        self._spawn = spawn

    def try_now(self, now: float, tokens: float, rates: Rates) -> Grant | None:
        """Admit at once if the in-memory store lets it; None: ask :meth:`reserve`."""
        mem = self._mem
        if mem is None:
            return None
        return mem.reserve_now(self.name, now, tokens, rates)

    async def reserve(
        self,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> Grant:
        mem = self._mem
        if mem is not None:
            return mem.reserve_now(self.name, now, tokens, rates, ahead_requests, ahead_tokens)
        return await self._store.reserve(
            self.name, now, tokens, rates, ahead_requests, ahead_tokens
        )

    def peek(
        self, now: float, tokens: float, rates: Rates, ahead_requests: float, ahead_tokens: float
    ) -> float | None:
        """When a call of ``tokens`` behind the given queue could start (no
        change made); None when the store cannot say without a round trip."""
        mem = self._mem
        if mem is None:
            return None
        return mem.start_time(self.name, now, tokens, rates, ahead_requests, ahead_tokens)

    def adjust(
        self,
        now: float,
        tokens: float,
        rates: Rates,
        mark: float,
        then: Callable[[], None] | None = None,
    ) -> None:
        """Charge (> 0) or refund (< 0) ``tokens`` of the reservation with
        ``mark``; ``then`` runs once the store has done it."""
        if tokens == 0.0 or not rates.token_interval:
            return
        mem = self._mem
        if mem is not None:
            mem.adjust_now(self.name, now, tokens, rates, mark)
            if then is not None:
                then()
        else:
            self._spawn(self._adjust(now, tokens, rates, mark, then))

    async def _adjust(
        self, now: float, tokens: float, rates: Rates, mark: float, then: Callable[[], None] | None
    ) -> None:
        await self._store.adjust(self.name, now, tokens, rates, mark)
        if then is not None:
            then()

    def sync(self, now: float, rates: Rates, requests: float | None, tokens: float | None) -> None:
        """The provider says only this much is left."""
        if requests is None and tokens is None:
            return
        mem = self._mem
        if mem is not None:
            mem.sync_now(self.name, now, rates, requests, tokens)
        else:
            self._spawn(self._store.sync(self.name, now, rates, requests, tokens))

    def hold(self, until: float) -> None:
        """No call of this key starts before ``until``."""
        mem = self._mem
        if mem is not None:
            mem.hold_now(self.name, until)
        else:
            self._spawn(self._store.hold(self.name, until))


def spawner(tasks: set[asyncio.Task[None]]) -> Callable[[Coroutine[Any, Any, Any]], None]:
    """Run store updates as tasks kept in ``tasks`` until they are done."""

    def spawn(coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return spawn
