"""RedisStore: limiter buckets and breaker state shared by many processes.

One store serves a :class:`RateLimiter` (``store=``) and a
:class:`CircuitBreaker` (``store=``) at once. Each limiter operation is one
``EVALSHA`` of a script from :mod:`resilience._redis.scripts` (``EVAL`` when
the server lost its script cache), so an admission costs one round trip and
N processes draw on one bucket. Breaker state is cached per process and kept
fresh by pub/sub plus a periodic read (see :mod:`resilience._redis.breakers`).

Redis is never on the critical path of a call (see
:mod:`resilience._redis.link`): every operation has a short timeout, and
when one fails the store logs one warning, serves from local state (the
limiter at ``local_share`` of each limit, the breaker on its own counts),
probes Redis in the background with backoff on the injected clock, and
resumes sharing when it answers again.
"""

from __future__ import annotations

import math
import random as _random
import uuid
from typing import Any

from redis import Redis as SyncRedis

from resilience._core.clock import Clock
from resilience._core.context import clock_of
from resilience._core.errors import ConfigError
from resilience._core.validate import number
from resilience._redis.breakers import RedisBreakers
from resilience._redis.link import RedisLink, RedisUnavailable
from resilience._redis.scripts import LIM_ADJUST, LIM_HOLD, LIM_RESERVE, LIM_SYNC
from resilience._store import gcra as _bucket
from resilience._store.breaker import BreakerRecord
from resilience._store.limiter import Grant, MemoryStore, Rates

__all__ = ["RedisStore"]

REGISTER_EVERY = 5.0
"""Seconds between two registrations of this process in the worker set."""

WORKER_WINDOW = 20.0
"""A process that has not registered for this long no longer counts as a
worker (it stopped, or it has no traffic and takes no share)."""

MAX_BACKDATE = 0.05
"""Seconds a reservation may be asked for in the past. The limiter asks as of
the moment the store named when its timer fires late, so a busy loop does
not slow the schedule; beyond this it is not lateness but a stale reading."""

RTT_WEIGHT = 0.2
"""Weight of the newest sample in the smoothed round trip to Redis."""

SERVER_MARK = 1e9
"""Reservation marks from Redis are server Unix times (well above this);
marks from the local fallback are readings of a monotonic clock (far
below). A refund carries its mark, so this tells which bucket it belongs to."""


def _num(value: Any) -> float:
    return float(value)  # bytes or str from Redis: float() takes both


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _scale(rates: Rates, share: float) -> Rates:
    """``rates`` at ``share`` of their speed (and of their burst, down to one call)."""
    if share >= 1.0:
        return rates
    ri, rcap, ti, tcap = rates
    cap = max(1.0, rcap * share)
    return Rates(
        ri / share if ri > 0.0 else 0.0,
        cap,
        ti / share if ti > 0.0 else 0.0,
        tcap * cap / rcap if rcap > 0.0 else tcap,
    )


class RedisStore:
    """Limiter and breaker state in Redis, for many worker processes.

    ``client``: a ``redis.asyncio.Redis`` (yours: the store never closes it).
    ``prefix``: key namespace (``{prefix}:lim:{key}``, ``{prefix}:brk:{key}``).
    ``ttl``: seconds an idle key lives (after its bucket drained or its open
    period ended). ``timeout``: the longest one Redis operation may take
    before the call goes on without it. ``local_share``: the part of each
    limit one process takes while Redis is unreachable; None means 1/N for
    the N processes seen sharing this store lately (1 if it never reached
    Redis). ``breaker_refresh``: the longest a process trusts its cached
    breaker state when pub/sub is silent. ``backoff``/``max_backoff``: the
    reconnection delays. ``clock``: the clock of the limiter and breaker
    using this store (None: theirs, i.e. the pipeline's).
    """

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "resilience",
        ttl: float = 900.0,
        timeout: float = 0.25,
        local_share: float | None = None,
        breaker_refresh: float = 1.0,
        backoff: float = 0.5,
        max_backoff: float = 10.0,
        clock: Clock | None = None,
        random: _random.Random | None = None,
    ) -> None:
        if not callable(getattr(client, "evalsha", None)) or isinstance(client, SyncRedis):
            # The synchronous client would block the event loop on every call.
            raise ConfigError("client", type(client).__name__, "a redis.asyncio.Redis client")
        if not isinstance(prefix, str) or not prefix:
            raise ConfigError("prefix", prefix, "a non-empty string")
        self.client = client
        self.prefix = prefix
        self.ttl = number("ttl", ttl)
        self.timeout = number("timeout", timeout)
        if local_share is not None:
            local_share = number("local_share", local_share)
            if local_share > 1.0:
                raise ConfigError("local_share", local_share, "a share in (0, 1], or None")
        self.local_share = local_share
        self.breaker_refresh = number("breaker_refresh", breaker_refresh, inclusive=True)
        self.backoff = number("backoff", backoff)
        self.max_backoff = number("max_backoff", max_backoff)
        if self.max_backoff < self.backoff:
            raise ConfigError("max_backoff", max_backoff, f">= backoff ({backoff})")
        self._clock = clock
        self._id = uuid.uuid4().hex[:16]
        self._workers_key = f"{prefix}:workers"
        self._next_register = -math.inf
        self._floor = 0
        self._registered = 0
        self._rtt = 0.0  # smoothed round trip of a reservation, seconds
        self._floor_until = -math.inf
        self.workers = 0
        """Processes seen sharing this store lately (0: not known yet)."""
        self._local = MemoryStore()
        self.link = RedisLink(
            client,
            name=prefix,
            timeout=self.timeout,
            backoff=self.backoff,
            max_backoff=self.max_backoff,
            clock=clock,
            random=random if random is not None else _random.Random(),
            fallback=lambda: (
                "limits and breakers continue on local state (this process takes "
                f"{self.share:.3g} of each limit)"
            ),
        )
        self.link.on_resume.append(self._resumed)
        self._breakers = RedisBreakers(self)
        self.link.on_resume.append(self._breakers.resumed)

    # -- health ------------------------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """False while Redis is unreachable and state is local."""
        return self.link.healthy

    @property
    def outages(self) -> int:
        """How many times Redis became unreachable (one warning each)."""
        return self.link.outages

    @property
    def share(self) -> float:
        """The part of each limit this process takes while Redis is down."""
        if self.local_share is not None:
            return self.local_share
        return 1.0 / self.workers if self.workers > 1 else 1.0

    def _resumed(self, clock: Clock) -> None:
        # Register at once, and remember how many there were: the others
        # come back one by one (see _shared).
        self._next_register = -math.inf
        self._registered = 0  # unknown until the next reply: assume alone
        self._floor, self._floor_until = self.workers, clock.monotonic() + WORKER_WINDOW

    async def aclose(self) -> None:
        """Stop the background tasks (the client stays open: it is yours)."""
        await self._breakers.aclose()
        await self.link.aclose()

    async def __aenter__(self) -> RedisStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- the limiter store --------------------------------------------------------------------

    def _key(self, key: str) -> str:
        return f"{self.prefix}:lim:{key}"

    def _scaled(self, rates: Rates) -> Rates:
        """The conservative local share of ``rates``, for when Redis is down."""
        return _scale(rates, self.share)

    def _shared(self, rates: Rates, now: float) -> Rates:
        """The rates to ask Redis for. Right after an outage the others come
        back one by one (their reconnection delays are jittered) and until
        then each still takes its local share: those back take only their
        part of the shared bucket, or together they would overrun it."""
        if now >= self._floor_until or self._floor <= 1 or self._registered >= self._floor:
            return rates
        return _scale(rates, max(1, self._registered) / self._floor)

    @property
    def _ttl_ms(self) -> str:
        return repr(self.ttl * 1000.0)

    async def reserve(
        self,
        key: str,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> Grant:
        register = ""
        if now >= self._next_register:
            register = self._id
        if self.link.healthy:
            clock = clock_of(self._clock)
            sent = clock.monotonic()
            # Our clock and the caller's agree (the usual case) when ``now`` is
            # a fresh reading or a slightly backdated one. The server then
            # charges as of the server time matching ``now``: the time since it
            # plus the way there (half a round trip).
            same_clock = 0.0 <= sent - now <= 1.0
            late = 0.0
            if same_clock:
                late = min(sent - now, MAX_BACKDATE) + self._rtt / 2.0
            args = (
                repr(float(tokens)),
                *(repr(float(x)) for x in self._shared(rates, now)),
                repr(float(ahead_requests)),
                repr(float(ahead_tokens)),
                self._ttl_ms,
                register,
                repr(WORKER_WINDOW),
                repr(late),
            )
            try:
                reply = await self.link.eval(LIM_RESERVE, (self._key(key), self._workers_key), args)
            except RedisUnavailable:
                pass
            else:
                delay, admitted, binding, mark, workers = reply
                # Right after Redis lost its data the others have not registered
                # again yet: the count from before the outage holds for a while.
                self._registered = int(workers)
                floor = self._floor if now < self._floor_until else 0
                self.workers = max(self._registered, floor)
                if register:
                    self._next_register = now + REGISTER_EVERY
                if int(admitted):
                    if same_clock:
                        self._rtt += RTT_WEIGHT * ((clock.monotonic() - sent) - self._rtt)
                    return Grant(now, True, "", _num(mark))
                if not same_clock:
                    return Grant(now + _num(delay), False, _text(binding), 0.0)
                # "Start in d seconds" counts from the server's now: the middle
                # of the round trip, on our clock.
                received = clock.monotonic()
                self._rtt += RTT_WEIGHT * ((received - sent) - self._rtt)
                start = (sent + received) / 2.0 + _num(delay)
                return Grant(start, False, _text(binding), 0.0)
        return self._local.reserve_now(
            key, now, tokens, self._scaled(rates), ahead_requests, ahead_tokens
        )

    async def adjust(self, key: str, now: float, tokens: float, rates: Rates, mark: float) -> None:
        if rates.token_interval <= 0.0 or tokens == 0.0:
            return
        remote = mark >= SERVER_MARK
        if self.link.healthy:
            if tokens < 0.0 and not remote:
                return  # a refund of a reservation made locally: keeping it is safe
            args = (repr(float(tokens)), repr(rates.token_interval), repr(mark), self._ttl_ms)
            try:
                await self.link.eval(LIM_ADJUST, (self._key(key),), (*args, repr(_bucket.MAX_DEBT)))
                return
            except RedisUnavailable:
                pass
        if tokens < 0.0 and remote:
            return
        self._local.adjust_now(key, now, tokens, self._scaled(rates), mark)

    async def sync(
        self,
        key: str,
        now: float,
        rates: Rates,
        requests_remaining: float | None = None,
        tokens_remaining: float | None = None,
    ) -> None:
        if self.link.healthy:
            args = (
                *(repr(float(x)) for x in rates),
                "" if requests_remaining is None else repr(float(requests_remaining)),
                "" if tokens_remaining is None else repr(float(tokens_remaining)),
                self._ttl_ms,
            )
            try:
                await self.link.eval(LIM_SYNC, (self._key(key),), args)
                return
            except RedisUnavailable:
                pass
        share = self.share
        self._local.sync_now(
            key,
            now,
            self._scaled(rates),
            None if requests_remaining is None else requests_remaining * share,
            None if tokens_remaining is None else tokens_remaining * share,
        )

    async def hold(self, key: str, until: float) -> float:
        now = clock_of(self._clock).monotonic()
        # Kept locally too, so a pushback still holds if Redis goes away.
        local = self._local.hold_now(key, until)
        if self.link.healthy:
            args = (repr(float(until - now)), self._ttl_ms)
            try:
                reply = await self.link.eval(LIM_HOLD, (self._key(key),), args)
            except RedisUnavailable:
                pass
            else:
                return max(local, now + _num(reply))
        return local

    # -- the breaker store -------------------------------------------------------------------

    def record(self, key: str) -> BreakerRecord:
        return self._breakers.record(key)

    def saved(self, key: str, record: BreakerRecord, now: float) -> None:
        self._breakers.saved(key, record, now)

    def __repr__(self) -> str:
        state = "healthy" if self.link.healthy else "down"
        return f"RedisStore(prefix={self.prefix!r}, {state}, workers={self.workers})"
