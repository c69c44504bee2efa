"""The rate limiter: requests, tokens and calls in flight, per provider[/model].

Per call: take a concurrency slot (FIFO), then one request and
``input_tokens + max_output_tokens`` tokens (FIFO per key: only the head of
the queue asks the store, the others wait their turn); run the call; then
reconcile the tokens with the real usage, resync from the rate-limit headers,
and feed the adaptive rate. A 429 holds every new call to the key until its
``retry_after`` has passed.

Keys: with a mapping of limits, a call's key is the most specific configured
key (``"openai/gpt-4o"`` before ``"openai"``; the models of a provider-level
key share its buckets); with one :class:`Limit`, the provider; with no
matching limit and ``adaptive=True``, ``provider/model`` (OpenAI and most
others limit per model). With no limit and ``adaptive=False`` a call passes
through untouched.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from resilience._adaptive import AdaptiveRate
from resilience._call import Call, Handler
from resilience._clock import Clock
from resilience._context import clock_of, current_attempt, current_run, emit
from resilience._errors import ConfigError, ProviderError
from resilience._events import Event, RateLimitWait, Subscriber, as_callback
from resilience._failure import Failure, Kind
from resilience._limit import KeyState, KeyStatus, Limit, Waiter
from resilience._limiter_store import Grant, LimiterStore, MemoryStore
from resilience._permit import Permit
from resilience._ratelimit_headers import parse_ratelimit_headers
from resilience._stream import on_stream_end
from resilience._usage import usage_of

__all__ = ["Limit", "Permit", "RateLimiter"]

PROBE_WAIT = 2.0
"""Seconds an unconfigured key waits for its first answer before letting
more than one call out anyway."""

MAX_HOLD = 60.0
"""Longest pushback honoured; a longer ``retry_after`` is provider garbage or
a quota, which is not this limiter's business."""

_LOCAL = "local_rate_limit"


class RateLimiter:
    """Pace calls to each provider[/model] under its limits. A pipeline middleware.

    ``limits``: one :class:`Limit` for every provider, or a mapping from
    ``"provider"`` or ``"provider/model"`` to a :class:`Limit`. ``adaptive``:
    learn the request rate from 429s (and take limits stated by headers) where
    none is configured or the configured one proves too high. ``store``: where
    bucket state lives (in memory by default). ``max_wait``: the longest a
    call may wait for admission (besides its own deadline).
    """

    def __init__(
        self,
        limits: Limit | Mapping[str, Limit] | None = None,
        *,
        adaptive: bool = True,
        store: LimiterStore | None = None,
        clock: Clock | None = None,
        hooks: Sequence[Subscriber] = (),
        max_wait: float | None = None,
    ) -> None:
        self._single: Limit | None = None
        self._limits: dict[str, Limit] = {}
        if isinstance(limits, Limit):
            self._single = limits
        elif isinstance(limits, Mapping):
            for key, limit in limits.items():
                if not isinstance(key, str) or not key or key.startswith("/"):
                    raise ConfigError("limits", key, "keys like 'provider' or 'provider/model'")
                if not isinstance(limit, Limit):
                    raise ConfigError(f"limits[{key!r}]", limit, "a resilience.Limit")
                self._limits[key] = limit
        elif limits is not None:
            raise ConfigError("limits", limits, "a Limit, a mapping of keys to Limits, or None")
        if not isinstance(adaptive, bool):
            raise ConfigError("adaptive", adaptive, "True or False")
        self.adaptive = adaptive
        if store is None:
            store = MemoryStore()
        elif not isinstance(store, LimiterStore):
            raise ConfigError("store", store, "a LimiterStore (reserve, adjust, sync, hold)")
        self._store: LimiterStore = store
        self._mem = store if isinstance(store, MemoryStore) else None
        if max_wait is not None and (
            isinstance(max_wait, bool)
            or not isinstance(max_wait, int | float)
            or not max_wait >= 0
            or not math.isfinite(max_wait)
        ):
            raise ConfigError("max_wait", max_wait, "seconds >= 0, or None")
        self.max_wait = max_wait
        self._clock = clock
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)
        self._keys: dict[str, KeyState] = {}
        self._routes: dict[tuple[str, str], KeyState | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # -- keys ------------------------------------------------------------------------------

    def key_for(self, call: Call) -> str | None:
        """The key whose buckets ``call`` uses (None: not limited)."""
        state = self._state(call)
        return state.name if state is not None else None

    def status(self, key: str) -> KeyStatus | None:
        """What the limiter knows about ``key`` (None before its first call)."""
        state = self._keys.get(key)
        return state.status() if state is not None else None

    def _state(self, call: Call) -> KeyState | None:
        route = (call.provider, call.model)
        try:
            return self._routes[route]
        except KeyError:
            pass
        name: str | None = None
        limit: Limit | None = None
        target = f"{call.provider}/{call.model}"
        if target in self._limits:
            name, limit = target, self._limits[target]
        elif call.provider in self._limits:
            name, limit = call.provider, self._limits[call.provider]
        elif self._single is not None:
            name, limit = call.provider, self._single
        elif self.adaptive:
            name = target
        state = None
        if name is not None:
            state = self._keys.get(name)
            if state is None:
                learner = AdaptiveRate() if self.adaptive else None
                state = self._keys[name] = KeyState(name, limit, learner)
        self._routes[route] = state
        return state

    # -- the middleware ----------------------------------------------------------------------

    async def __call__(self, call: Call, handler: Handler) -> Any:
        state = self._state(call)
        if state is None:
            return await handler(call)
        permit = await self._acquire(state, call)
        try:
            result = await handler(call)
        except ProviderError as exc:
            attempt = current_attempt()
            permit.fail(exc.failure, headers=attempt.headers if attempt is not None else None)
            raise
        except BaseException:
            permit.abandon()
            raise
        attempt = current_attempt()
        if attempt is None:
            permit.release(usage_of(result))
            return result
        headers = attempt.headers
        if on_stream_end(result, lambda error: permit.end_stream(error, attempt)):
            permit.answered(headers)
            return result
        permit.release(usage_of(result, attempt.usage), headers)
        return result

    # -- the low-level API ---------------------------------------------------------------------

    async def acquire(self, call: Call) -> Permit:
        """Wait for admission; then call exactly one of ``permit.release()`` or
        ``permit.fail(failure)``. Raises like the middleware."""
        state = self._state(call)
        if state is None:
            clock = clock_of(self._clock)
            return Permit(self, None, call, clock, clock.monotonic(), 0.0, 0.0, slot=False)
        return await self._acquire(state, call)

    def observe(
        self,
        call: Call,
        failure: Failure | None = None,
        headers: Mapping[str, str] | Any | None = None,
    ) -> None:
        """Feedback for a call that went out without a permit."""
        state = self._state(call)
        if state is None:
            return
        now = self._clock_now()
        self._heard(state)
        if headers is not None:
            self._sync_headers(state, headers, now, force=failure is not None)
        if failure is not None:
            self._feedback_failure(state, failure, now, now - state.latency)
        elif state.adaptive is not None and state.adaptive.rate is not None:
            state.adaptive.on_success(now)
            self._recompute(state)

    # -- admission ---------------------------------------------------------------------------

    def _clock_now(self) -> float:
        return clock_of(self._clock).monotonic()

    async def _acquire(self, state: KeyState, call: Call) -> Permit:
        tokens = float(call.input_tokens + call.max_output_tokens)
        if state.tpm is not None and tokens > state.tpm:
            raise ProviderError(
                Failure.of(
                    Kind.PAYLOAD_TOO_LARGE,
                    code="exceeds_limit",
                    provider=call.provider,
                    message=(
                        f"this call needs {int(tokens)} tokens (input estimate plus "
                        f"max_output_tokens) but {state.name} allows {state.tpm:g} tokens "
                        "per minute: it can never be sent"
                    ),
                ),
                call=call,
            )
        clock = clock_of(self._clock)
        slot = False
        if state.gated:
            if state.in_flight < (state.capacity or 0) and not state.slot_waiters:
                state.in_flight += 1
            else:
                await self._wait_slot(state, call, clock)
            slot = True
            if state.probing and state.probe_timer is None:
                state.probe_timer = clock.call_at(
                    clock.monotonic() + PROBE_WAIT, lambda: self._heard(state)
                )
        try:
            now = clock.monotonic()
            mem = self._mem
            if state.queue:
                grant = None
            elif mem is not None:
                grant = mem.reserve_now(state.name, now, tokens, state.rates)
            else:
                grant = await self._store.reserve(state.name, now, tokens, state.rates)
            if grant is None or not grant.admitted:
                grant = await self._wait_turn(state, call, clock, tokens, now, grant)
                now = clock.monotonic()
        except BaseException:
            if slot:
                self._free_slot(state)
            raise
        if state.adaptive is not None:
            state.adaptive.record_send(now)
        return Permit(self, state, call, clock, now, tokens, grant.mark, slot=slot)

    def _budget(self, call: Call) -> float | None:
        run = current_run()
        budget = run.remaining() if run is not None else call.timeout
        if self.max_wait is not None and (budget is None or self.max_wait < budget):
            budget = self.max_wait
        return budget

    def _local_error(self, state: KeyState, call: Call, wait: float, why: str) -> ProviderError:
        return ProviderError(
            Failure.of(
                Kind.RATE_LIMIT,
                code=_LOCAL,
                retry_after=max(0.0, wait),
                provider=call.provider,
                message=(
                    f"held locally by the rate limiter of {state.name} ({why}); no request was sent"
                ),
            ),
            call=call,
        )

    async def _wait_turn(
        self,
        state: KeyState,
        call: Call,
        clock: Clock,
        tokens: float,
        now: float,
        grant: Grant | None,
    ) -> Grant:
        """Queue behind the calls already waiting (FIFO); only the head asks
        the store, at the moment it said the head could go."""
        if grant is None:  # others are queued: estimate our start behind them
            grant = await self._store.reserve(
                state.name, now, tokens, state.rates, float(len(state.queue)), state.queued_tokens
            )
        wait = grant.start - now
        budget = self._budget(call)
        dimension = grant.binding or "requests"
        if budget is not None and wait > budget:
            raise self._local_error(
                state, call, wait, f"{dimension}: {wait:.3f}s to wait, {budget:.3f}s allowed"
            )
        loop = asyncio.get_running_loop()
        deadline = now + budget if budget is not None else math.inf
        waiter = Waiter(loop, call, tokens, deadline)
        state.queue.append(waiter)
        state.queued_tokens += tokens
        if budget is not None:
            waiter.timer = clock.call_at(
                deadline,
                lambda: waiter.fail(
                    self._local_error(state, call, 0.0, f"{dimension}: waited {budget:.3f}s")
                ),
            )
        started = now
        try:
            if state.queue[0] is waiter:
                self._arm(state, clock, grant.start)
            while True:
                await waiter.fut
                if waiter.error is not None:
                    raise waiter.error
                waiter.fut = loop.create_future()
                if state.queue[0] is not waiter:
                    continue
                now = clock.monotonic()
                grant = await self._store.reserve(state.name, now, tokens, state.rates)
                if grant.admitted:
                    waiter.granted = True
                    break
                if grant.start > deadline:
                    why = f"{grant.binding or dimension}: the wait passes the deadline"
                    raise self._local_error(state, call, grant.start - now, why)
                self._arm(state, clock, grant.start)
        finally:
            self._leave(state, waiter)
        waited = now - started
        if waited > 0.0:
            emit(RateLimitWait, call, self._hooks, key=state.name, wait=waited, dimension=dimension)
        return grant

    def _arm(self, state: KeyState, clock: Clock, when: float) -> None:
        if state.timer is not None:
            state.timer.cancel()
        state.timer = clock.call_at(when, lambda: self._wake_head(state))

    def _wake_head(self, state: KeyState) -> None:
        if state.queue:
            state.queue[0].wake()

    def _leave(self, state: KeyState, waiter: Waiter) -> None:
        if waiter.timer is not None:
            waiter.timer.cancel()
        was_head = bool(state.queue) and state.queue[0] is waiter
        try:
            state.queue.remove(waiter)
        except ValueError:
            return
        state.queued_tokens = max(0.0, state.queued_tokens - waiter.tokens) if state.queue else 0.0
        if was_head:
            if state.timer is not None:
                state.timer.cancel()
                state.timer = None
            self._wake_head(state)

    # -- concurrency slots -----------------------------------------------------------------------

    async def _wait_slot(self, state: KeyState, call: Call, clock: Clock) -> None:
        now = clock.monotonic()
        budget = self._budget(call)
        deadline = now + budget if budget is not None else math.inf
        waiter = Waiter(asyncio.get_running_loop(), call, 0.0, deadline)
        state.slot_waiters.append(waiter)
        if budget is not None:
            waiter.timer = clock.call_at(
                deadline,
                lambda: waiter.fail(
                    self._local_error(state, call, 0.0, f"no free slot within {budget:.3f}s")
                ),
            )
        try:
            await waiter.fut
        except BaseException:
            if waiter.granted:
                self._free_slot(state)
            raise
        finally:
            if waiter.timer is not None:
                waiter.timer.cancel()
            if not waiter.granted and waiter in state.slot_waiters:
                state.slot_waiters.remove(waiter)
        if waiter.error is not None and not waiter.granted:
            raise waiter.error
        waited = clock.monotonic() - now
        if waited > 0.0:
            dim = "pushback" if state.probing else "concurrency"
            emit(RateLimitWait, call, self._hooks, key=state.name, wait=waited, dimension=dim)

    def _free_slot(self, state: KeyState) -> None:
        state.in_flight -= 1
        self._grant_slots(state)

    def _grant_slots(self, state: KeyState) -> None:
        waiters = state.slot_waiters
        while waiters and (state.capacity is None or state.in_flight < state.capacity):
            waiter = waiters.popleft()
            if waiter.fut.done():
                continue
            waiter.granted = True
            state.in_flight += 1
            waiter.wake()

    def _heard(self, state: KeyState) -> None:
        """The key's provider answered once: lift the first-contact gate."""
        if not state.probing:
            return
        state.probing = False
        if state.probe_timer is not None:
            state.probe_timer.cancel()
            state.probe_timer = None
        self._recompute(state)
        self._grant_slots(state)

    # -- feedback ----------------------------------------------------------------------------------

    def _recompute(self, state: KeyState) -> None:
        if state.recompute():
            self._wake_head(state)

    def _sync_headers(self, state: KeyState, headers: Any, now: float, *, force: bool) -> None:
        # Parsing costs more than the rest of an admitted call; on successes,
        # ten times a second per key is plenty to follow a provider's counts.
        if not force and state.stated_rpm is not None and now - state.last_parse < 0.1:
            return
        state.last_parse = now
        info = parse_ratelimit_headers(headers)
        if info is None:
            return
        # A limit whose reset is over a minute away is not per minute (a daily
        # quota, say): it says nothing about pace.
        changed = False
        rpm, tpm = info.requests_limit, info.tokens_limit
        if rpm and (info.requests_reset or 0.0) <= 61.0 and state.stated_rpm != rpm:
            state.stated_rpm = float(rpm)
            changed = True
        if tpm and (info.tokens_reset or 0.0) <= 61.0 and state.stated_tpm != tpm:
            state.stated_tpm = float(tpm)
            changed = True
        if changed:
            self._recompute(state)
        if info.requests_remaining is None and info.tokens_remaining is None:
            return
        rr = float(info.requests_remaining) if info.requests_remaining is not None else None
        tr = float(info.tokens_remaining) if info.tokens_remaining is not None else None
        if self._mem is not None:
            self._mem.sync_now(state.name, now, state.rates, rr, tr)
        else:
            self._spawn(self._store.sync(state.name, now, state.rates, rr, tr))

    def _feedback_failure(
        self, state: KeyState, failure: Failure, now: float, sent_at: float
    ) -> None:
        if failure.kind is not Kind.RATE_LIMIT or failure.code == _LOCAL:
            return
        retry_after = failure.retry_after
        if retry_after is not None and retry_after > 0.0:
            self._hold(state, now + min(retry_after, MAX_HOLD), now)
        learner = state.adaptive
        if learner is not None and learner.on_throttle(now, sent_at, state.known_rps()):
            self._recompute(state)

    def _hold(self, state: KeyState, until: float, now: float) -> None:
        if until <= state.hold:
            return
        state.hold = until
        if self._mem is not None:
            self._mem.hold_now(state.name, until)
        else:
            self._spawn(self._store.hold(state.name, until))
        # Calls already queued are held too; those whose deadline the hold
        # now passes fail at once instead of timing out in the queue.
        for waiter in state.queue:
            if waiter.deadline < until:
                waiter.fail(
                    self._local_error(
                        state, waiter.call, until - now, "pushback: the provider asked to wait"
                    )
                )
        self._wake_head(state)

    def _adjust(self, state: KeyState, now: float, tokens: float, mark: float) -> None:
        if tokens == 0.0 or not state.rates.token_interval:
            return
        if self._mem is not None:
            self._mem.adjust_now(state.name, now, tokens, state.rates, mark)
            if tokens < 0.0:
                self._wake_head(state)
        else:
            self._spawn(self._adjust_async(state, now, tokens, mark))

    async def _adjust_async(self, state: KeyState, now: float, tokens: float, mark: float) -> None:
        await self._store.adjust(state.name, now, tokens, state.rates, mark)
        if tokens < 0.0:
            self._wake_head(state)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def __repr__(self) -> str:
        what = repr(self._single) if self._single is not None else repr(self._limits or None)
        return f"RateLimiter({what}, adaptive={self.adaptive})"
