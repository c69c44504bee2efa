"""The Redis store's connection: bounded commands, health, reconnection.

Every command runs under a short timeout. A refused or broken connection, or
two timeouts in a row, mark the link down: one warning is logged for the
whole outage, callers go on with local state (they get
:class:`RedisUnavailable` at once instead of waiting on a dead server), and a
background task pings Redis with jittered, growing delays on the injected
clock. When it answers, the link is up again, one info line is logged, and
the ``on_resume`` callbacks run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random as _random
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from redis.exceptions import NoScriptError, RedisError
from redis.exceptions import TimeoutError as RedisTimeout

from resilience._core.clock import Clock
from resilience._core.context import clock_of
from resilience._redis.scripts import Script

__all__ = ["RedisLink", "RedisUnavailable", "cancel_all"]

log = logging.getLogger("resilience")

SLOW_REPLIES = 2
"""Timeouts in a row that make an outage (a refused connection makes one at once)."""


class RedisUnavailable(Exception):
    """Redis did not answer in time; the caller goes on with local state."""


def _forget(tasks: set[asyncio.Task[Any]]) -> Callable[[asyncio.Task[Any]], None]:
    def done(task: asyncio.Task[Any]) -> None:
        tasks.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: the caller saw it, or had gone

    return done


async def cancel_all(tasks: Sequence[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait for them, asking again where redis.asyncio
    swallowed the first request (see :meth:`RedisLink.eval`)."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(10):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.2)


class RedisLink:
    """One client, its health, and the store's background tasks."""

    def __init__(
        self,
        client: Any,
        *,
        name: str,
        timeout: float,
        backoff: float,
        max_backoff: float,
        clock: Clock | None,
        random: _random.Random,
        fallback: Callable[[], str],
    ) -> None:
        self.client = client
        self.name = name
        self.timeout = timeout
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self._random = random
        self._fallback = fallback  # what the warning says callers do meanwhile
        self.healthy = True
        self.outages = 0
        self._slow = 0  # timeouts in a row
        self.on_resume: list[Callable[[Clock], None]] = []
        self._back = asyncio.Event()
        self._back.set()
        self._down_since = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._commands: set[asyncio.Task[Any]] = set()

    async def wait_healthy(self) -> None:
        await self._back.wait()

    def failed(self, exc: BaseException) -> None:
        """Redis failed a command: go local, warn once, start reconnecting."""
        if not self.healthy:
            return
        self.healthy = False
        self._back.clear()
        self.outages += 1
        clock = clock_of(self.clock)
        self._down_since = clock.monotonic()
        log.warning(
            "resilience: Redis store %r unreachable (%s: %s); %s until it answers again",
            self.name,
            type(exc).__name__,
            str(exc)[:200],
            self._fallback(),
        )
        self.spawn(self._reconnect(clock))

    async def _reconnect(self, clock: Clock) -> None:
        delay = self.backoff
        while True:
            # Jitter keeps a fleet of workers from reconnecting in lockstep.
            await clock.sleep(delay * (0.5 + 0.5 * self._random.random()))
            try:
                async with asyncio.timeout(self.timeout * 4):
                    await self.client.ping()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = min(self.max_backoff, delay * 2.0)
        # Pooled connections from before the outage are dead; drop the idle
        # ones so the first commands after it do not trip over them.
        pool = getattr(self.client, "connection_pool", None)
        if pool is not None:
            with contextlib.suppress(Exception):
                await pool.disconnect(inuse_connections=False)
        self.healthy = True
        self._back.set()
        log.info(
            "resilience: Redis store %r reachable again after %.1fs; state shared again",
            self.name,
            clock.monotonic() - self._down_since,
        )
        for callback in self.on_resume:
            callback(clock)

    async def eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script call, bounded by ``timeout``; raises RedisUnavailable.

        The command runs in a task of its own and the caller awaits it through
        ``shield``: redis.asyncio sometimes swallows a cancellation that lands
        mid-command (redis/redis-py#2028), which would leave a cancelled call
        queued forever. Shielded, the caller's cancellation always lands; the
        command finishes (within ``timeout``) on its own.
        """
        if not self.healthy:
            raise RedisUnavailable("Redis is down")
        task = asyncio.get_running_loop().create_task(self._eval(script, keys, args))
        self._commands.add(task)
        task.add_done_callback(_forget(self._commands))
        return await asyncio.shield(task)

    async def _eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        try:
            async with asyncio.timeout(self.timeout):
                try:
                    reply = await self.client.evalsha(script.sha, len(keys), *keys, *args)
                except NoScriptError:
                    # The server restarted or flushed its script cache: EVAL
                    # runs the script and caches it again in one round trip.
                    reply = await self.client.eval(script.source, len(keys), *keys, *args)
        except (RedisError, OSError, TimeoutError) as exc:
            # One late reply is a hiccup (a busy host, a long GC pause): that
            # call goes on locally. Two in a row, or a refused connection, is
            # an outage.
            slow = isinstance(exc, TimeoutError | RedisTimeout)
            self._slow = self._slow + 1 if slow else 0
            if not slow or self._slow >= SLOW_REPLIES:
                self.failed(exc)
            raise RedisUnavailable(str(exc)) from exc
        self._slow = 0
        return reply

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("resilience: Redis store task failed", exc_info=task.exception())

    async def aclose(self) -> None:
        await cancel_all([*self._tasks, *self._commands])
