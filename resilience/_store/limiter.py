"""Where rate-limiter state lives: a small async interface and its in-memory default.

The limiter keeps its queues, timers, concurrency slots and learned rates in
the process; only the bucket state goes through a :class:`LimiterStore`, so
that several processes can share one provider limit through a store such as
Redis. Per key that state is four floats: the requests ``tat``, the tokens
``tat`` and refund ``shift`` (see :mod:`resilience._store.gcra`), and the pushback
``hold`` (no call starts before it).

Every method is one atomic read-modify-write of one key, so a Redis
implementation can make each of them a single Lua script call mirroring the
functions of :mod:`resilience._store.gcra`. Rates travel with each call (the
limiter owns configuration and learning; the store owns only state). Times
are the caller's clock readings (``now``): a shared store needs the callers to
share a clock, which a Redis store gets by using the server's ``TIME``.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from resilience._store import gcra as _bucket

__all__ = ["Grant", "LimiterStore", "MemoryStore", "Rates"]


class Rates(NamedTuple):
    """The limit in force for a key, as bucket parameters (0 interval: unlimited)."""

    request_interval: float = 0.0
    request_capacity: float = 1.0
    token_interval: float = 0.0
    token_capacity: float = 0.0


class Grant(NamedTuple):
    """A store's answer to :meth:`LimiterStore.reserve`.

    ``admitted`` means the call was charged and may go now. Otherwise nothing
    was taken and ``start`` is the earliest moment it could go (an estimate when
    others are queued ahead); ``binding`` names what holds it back:
    ``"requests"``, ``"tokens"`` or ``"pushback"`` (``""`` when admitted at once).
    ``mark`` goes back to :meth:`LimiterStore.adjust` to reconcile the tokens.
    """

    start: float
    admitted: bool
    binding: str
    mark: float


@runtime_checkable
class LimiterStore(Protocol):
    """Bucket state per key. Each method must be atomic for its key."""

    async def reserve(
        self,
        key: str,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> Grant:
        """Admit one request of ``tokens`` if it fits now and nobody is queued
        ahead (``ahead_*`` are the units of calls already waiting in front of
        it); otherwise take nothing and say when it could start."""
        ...

    async def adjust(self, key: str, now: float, tokens: float, rates: Rates, mark: float) -> None:
        """Reconcile a reservation: charge ``tokens`` more (> 0) or give back
        ``-tokens`` (< 0) of the reservation whose grant carried ``mark``."""
        ...

    async def sync(
        self,
        key: str,
        now: float,
        rates: Rates,
        requests_remaining: float | None = None,
        tokens_remaining: float | None = None,
    ) -> None:
        """The provider said this much is left: never let the bucket show more."""
        ...

    async def hold(self, key: str, until: float) -> float:
        """Start no call before ``until`` (pushback); return the hold in force."""
        ...


class _State:
    __slots__ = ("hold", "req_tat", "tok_shift", "tok_tat")

    def __init__(self) -> None:
        self.req_tat = 0.0
        self.tok_tat = 0.0
        self.tok_shift = 0.0
        self.hold = float("-inf")


class MemoryStore:
    """The default store: state in a dict, for one process.

    Its coroutines never suspend; the limiter also calls the ``*_now`` twins
    directly on its hot path and from synchronous callbacks (stream ends,
    framework hooks), so an admitted call costs a few float operations.
    """

    __slots__ = ("_states",)

    def __init__(self) -> None:
        self._states: dict[str, _State] = {}

    def _state(self, key: str) -> _State:
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State()
        return state

    def _start(
        self,
        s: _State,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float,
        ahead_tokens: float,
    ) -> tuple[float, str]:
        ri, ti = rates.request_interval, rates.token_interval
        start, binding = now, ""
        if s.hold > start:
            start, binding = s.hold, "pushback"
        if ri > 0.0:
            tat = max(s.req_tat, now) + ahead_requests * ri if ahead_requests else s.req_tat
            t = _bucket.fit_time(tat, now, 1.0, ri, rates.request_capacity)
            if t > start:
                start, binding = t, "requests"
        if ti > 0.0 and tokens > 0.0:
            tat = max(s.tok_tat, now) + ahead_tokens * ti if ahead_tokens else s.tok_tat
            t = _bucket.fit_time(tat, now, tokens, ti, rates.token_capacity)
            if t > start:
                start, binding = t, "tokens"
        return start, binding

    def start_time(
        self,
        key: str,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> float:
        """When a call of ``tokens`` behind ``ahead_*`` could start; changes nothing."""
        s = self._states.get(key)
        if s is None:
            return now
        return self._start(s, now, tokens, rates, ahead_requests, ahead_tokens)[0]

    def reserve_now(
        self,
        key: str,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> Grant:
        s = self._state(key)
        start, binding = self._start(s, now, tokens, rates, ahead_requests, ahead_tokens)
        if start > now or ahead_requests > 0.0 or ahead_tokens > 0.0:
            return Grant(start, False, binding, 0.0)
        ri, ti = rates.request_interval, rates.token_interval
        s.req_tat = _bucket.admit(s.req_tat, now, 1.0, ri)
        s.tok_tat = _bucket.admit(s.tok_tat, now, tokens, ti)
        return Grant(now, True, "", _bucket.mark(s.tok_tat, s.tok_shift))

    def adjust_now(self, key: str, now: float, tokens: float, rates: Rates, mark: float) -> None:
        ti = rates.token_interval
        if ti <= 0.0 or tokens == 0.0:
            return
        s = self._state(key)
        if tokens > 0.0:
            s.tok_tat = _bucket.charge(s.tok_tat, now, tokens, ti)
        else:
            s.tok_tat, s.tok_shift = _bucket.refund(s.tok_tat, s.tok_shift, now, -tokens, ti, mark)

    def sync_now(
        self,
        key: str,
        now: float,
        rates: Rates,
        requests_remaining: float | None = None,
        tokens_remaining: float | None = None,
    ) -> None:
        s = self._state(key)
        if requests_remaining is not None:
            s.req_tat = _bucket.sync_remaining(
                s.req_tat, now, requests_remaining, rates.request_interval, rates.request_capacity
            )
        if tokens_remaining is not None:
            s.tok_tat = _bucket.sync_remaining(
                s.tok_tat, now, tokens_remaining, rates.token_interval, rates.token_capacity
            )

    def hold_now(self, key: str, until: float) -> float:
        s = self._state(key)
        if until > s.hold:
            s.hold = until
        return s.hold

    def snapshot(self, key: str) -> tuple[float, float, float, float]:
        """``(requests tat, tokens tat, tokens shift, hold)`` of ``key``, for tests."""
        s = self._state(key)
        return s.req_tat, s.tok_tat, s.tok_shift, s.hold

    async def reserve(
        self,
        key: str,
        now: float,
        tokens: float,
        rates: Rates,
        ahead_requests: float = 0.0,
        ahead_tokens: float = 0.0,
    ) -> Grant:
        return self.reserve_now(key, now, tokens, rates, ahead_requests, ahead_tokens)

    async def adjust(self, key: str, now: float, tokens: float, rates: Rates, mark: float) -> None:
        self.adjust_now(key, now, tokens, rates, mark)

    async def sync(
        self,
        key: str,
        now: float,
        rates: Rates,
        requests_remaining: float | None = None,
        tokens_remaining: float | None = None,
    ) -> None:
        self.sync_now(key, now, rates, requests_remaining, tokens_remaining)

    async def hold(self, key: str, until: float) -> float:
        return self.hold_now(key, until)

    def __repr__(self) -> str:
        return f"MemoryStore(keys={len(self._states)})"
