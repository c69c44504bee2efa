"""Breaker records shared through Redis, for :class:`RedisStore`.

The breaker reads its records synchronously on every admission, so each
process keeps them in memory and Redis is only ever touched in the
background:

- a transition (``saved``) is pushed by a task running one script, which
  writes the record over the version this process last knew and publishes
  it; a trip always lands (merged with an open already there), a reset by
  hand wins, and a half-open or close that lost a race takes the stored
  record instead;
- every process subscribes to the channel and writes what others publish
  into its records (a trip reaches the others in about one round trip);
- a record is also re-read when it is older than ``breaker_refresh``, which
  bounds the delay when a message was lost (pub/sub does not queue for a
  subscriber that is reconnecting).

Times cross processes as durations and ages from the server's clock and are
turned back into readings of the local clock on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from typing import TYPE_CHECKING, Any, NamedTuple

from redis.exceptions import RedisError

from resilience._core.clock import Clock
from resilience._core.context import clock_of
from resilience._redis.link import RedisUnavailable, cancel_all
from resilience._redis.scripts import BRK_READ, BRK_SAVE
from resilience._store.breaker import STATE_CLOSED, STATE_OPEN, STATES, BreakerRecord

if TYPE_CHECKING:
    from resilience._redis.store import RedisStore

__all__ = ["RedisBreakers"]

log = logging.getLogger("resilience")


class _View(NamedTuple):
    """A stored record as seen from the server's now."""

    version: int
    state: str
    open_for: float
    trips: int
    closed_age: float | None
    opened_age: float | None


def _age(value: Any) -> float | None:
    text = value.decode() if isinstance(value, bytes) else str(value)
    return float(text) if text else None


def _view(reply: Any) -> tuple[bool, _View]:
    accepted, v, state, open_for, trips, ca, oa = reply
    st = state.decode() if isinstance(state, bytes) else str(state)
    return bool(int(accepted)), _View(int(v), st, float(open_for), int(trips), _age(ca), _age(oa))


class _Snapshot(NamedTuple):
    state: str
    open_for: float
    trips: int
    closed_age: float | None
    opened_age: float | None
    force: bool


class _Entry:
    __slots__ = (
        "changes",
        "pending",
        "pushing",
        "record",
        "refreshed",
        "refreshing",
        "seen",
        "version",
    )

    def __init__(self) -> None:
        self.record = BreakerRecord()
        self.version = 0  # the stored version this record matches
        self.seen = STATE_CLOSED  # last state pushed or taken over
        self.pending: _Snapshot | None = None  # a transition not yet stored
        self.pushing = False
        self.refreshing = False
        self.refreshed = -math.inf
        self.changes = 0  # bumped by every local transition and every take-over


class RedisBreakers:
    """The breaker half of a :class:`RedisStore`."""

    def __init__(self, store: RedisStore) -> None:
        self._store = store
        self._entries: dict[str, _Entry] = {}
        self._channel = f"{store.prefix}:brk"
        self._listener: asyncio.Task[None] | None = None
        self._pushes: set[asyncio.Task[None]] = set()
        self.subscribed = False

    def _key(self, key: str) -> str:
        return f"{self._store.prefix}:brk:{key}"

    def _entry(self, key: str) -> _Entry:
        e = self._entries.get(key)
        if e is None:
            e = self._entries[key] = _Entry()
        return e

    # -- the BreakerStore contract (synchronous, on the loop) -----------------------------------

    def record(self, key: str) -> BreakerRecord:
        e = self._entry(key)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return e.record  # introspection outside a loop: the cache is the answer
        clock = clock_of(self._store._clock)
        if self._listener is None:
            self._listener = self._store.link.spawn(self._listen(clock))
        if self._store.link.healthy:
            if e.pending is not None and not e.pushing:
                self._start_push(key, e, clock)
            now = clock.monotonic()
            if not e.refreshing and now - e.refreshed >= self._store.breaker_refresh:
                e.refreshed = now
                e.refreshing = True
                self._store.link.spawn(self._refresh(key, e, clock, e.changes))
        return e.record

    def saved(self, key: str, record: BreakerRecord, now: float) -> None:
        e = self._entry(key)
        e.changes += 1
        e.pending = _Snapshot(
            record.state,
            record.open_until - now,
            record.trips,
            now - record.closed_at if math.isfinite(record.closed_at) else None,
            now - record.opened_at if record.opened_at is not None else None,
            # Only a reset by hand goes from open straight to closed.
            record.state == STATE_CLOSED and e.seen == STATE_OPEN,
        )
        e.seen = record.state
        if e.pushing or not self._store.link.healthy:
            return  # the running push takes it, or the recovery does
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # pushed by the next record() on a loop
        self._start_push(key, e, clock_of(self._store._clock))

    # -- background work ---------------------------------------------------------------------

    def _start_push(self, key: str, e: _Entry, clock: Clock) -> None:
        task = self._store.link.spawn(self._push(key, e, clock))
        self._pushes.add(task)
        task.add_done_callback(self._pushes.discard)

    async def _push(self, key: str, e: _Entry, clock: Clock) -> None:
        if e.pushing:
            return
        e.pushing = True
        try:
            while e.pending is not None:
                snap, e.pending = e.pending, None
                args = (
                    str(e.version),
                    snap.state,
                    repr(snap.open_for),
                    str(snap.trips),
                    "" if snap.closed_age is None else repr(snap.closed_age),
                    "" if snap.opened_age is None else repr(snap.opened_age),
                    "1" if snap.force else "0",
                    repr(self._store.ttl * 1000.0),
                    self._channel,
                    key,
                )
                try:
                    reply = await self._store.link.eval(BRK_SAVE, (self._key(key),), args)
                except RedisUnavailable:
                    if e.pending is None:
                        e.pending = snap  # stored when Redis answers again
                    return
                accepted, view = _view(reply)
                if accepted:
                    e.version = view.version
                    e.changes += 1
                    continue
                # Another process moved first. A later local trip still goes;
                # a later half-open or close was built on the lost state.
                if e.pending is not None and e.pending.state != STATE_OPEN:
                    e.pending = None
                if e.pending is None:
                    self._take(e, view, clock.monotonic())
                else:
                    e.version = view.version
        finally:
            e.pushing = False

    async def _refresh(self, key: str, e: _Entry, clock: Clock, changes: int) -> None:
        try:
            reply = await self._store.link.eval(BRK_READ, (self._key(key),), ())
        except RedisUnavailable:
            return
        finally:
            e.refreshing = False
        if e.changes != changes or e.pushing or e.pending is not None:
            return  # a newer state is on its way: this read is stale
        _, view = _view(reply)
        if view.version == e.version:
            return
        if view.version == 0:
            # The record expired or Redis lost its data: store ours again
            # unless it is closed (which is what no record means).
            e.version = 0
            if e.record.state != STATE_CLOSED:
                self.saved(key, e.record, clock.monotonic())
            return
        self._take(e, view, clock.monotonic())

    def _take(self, e: _Entry, view: _View, now: float) -> None:
        """Write a stored record into the local one; the breaker notices the
        new state on its next admission and takes it over."""
        if view.state not in STATES:
            return
        rec = e.record
        if rec.state != view.state:
            rec.reset_counter()
            rec.reset_success_counter()
        rec.state = view.state
        rec.open_until = now + view.open_for
        rec.trips = view.trips
        rec.closed_at = now - view.closed_age if view.closed_age is not None else -math.inf
        rec.opened_at = now - view.opened_age if view.opened_age is not None else None
        e.version = view.version
        e.seen = view.state
        e.changes += 1

    def _message(self, data: Any, clock: Clock) -> None:
        try:
            m = json.loads(data)
            key = m["k"]
            view = _View(
                int(m["v"]),
                str(m["s"]),
                float(m["ou"]),
                int(m["t"]),
                float(m["ca"]) if m["ca"] else None,
                float(m["oa"]) if m["oa"] else None,
            )
        except (ValueError, KeyError, TypeError):
            return  # not ours, or garbled: the periodic read covers it
        if not isinstance(key, str):
            return
        e = self._entry(key)
        if e.pushing or e.pending is not None or view.version <= e.version:
            return
        self._take(e, view, clock.monotonic())

    async def _listen(self, clock: Clock) -> None:
        store = self._store
        while True:
            await store.link.wait_healthy()
            pubsub = store.client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self._channel)
                self.subscribed = True
                # Whatever was published while we were not listening is lost:
                # read every record again on its next use.
                for e in self._entries.values():
                    e.refreshed = -math.inf
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        self._message(message.get("data"), clock)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                store.link.failed(exc)
            except Exception:
                log.exception("resilience: Redis store: breaker listener failed; restarting it")
            finally:
                self.subscribed = False
                with contextlib.suppress(Exception):
                    await asyncio.shield(_close(pubsub))
            await clock.sleep(store.backoff)

    def resumed(self, clock: Clock) -> None:
        """Redis answers again: subscribe afresh, store what changed
        meanwhile, re-read the rest."""
        # redis.asyncio may still be retrying the old subscription with its
        # own backoff (seconds): a new one listens now.
        old, self._listener = self._listener, None
        if old is not None:
            self._store.link.spawn(cancel_all([old]))
            self._listener = self._store.link.spawn(self._listen(clock))
        for key, e in self._entries.items():
            e.refreshed = -math.inf
            if e.pending is not None and not e.pushing:
                self._start_push(key, e, clock)

    async def aclose(self) -> None:
        # A transition made just before closing still reaches the others.
        if self._pushes:
            await asyncio.wait(self._pushes, timeout=self._store.timeout * 2)
        listener, self._listener = self._listener, None
        if listener is not None:
            await cancel_all([listener])


async def _close(pubsub: Any) -> None:
    close = getattr(pubsub, "aclose", None) or pubsub.close
    await close()
