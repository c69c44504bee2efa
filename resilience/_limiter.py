"""The rate limiter: requests, tokens and calls in flight, per provider[/model].

Per call: take a concurrency slot (FIFO), then one request and
``input_tokens + max_output_tokens`` tokens (FIFO per key: only the head of
the queue asks the store, the others wait their turn); run the call; then
reconcile the tokens with the real usage, resync from the rate-limit headers,
and feed the adaptive rate. A 429 whose headers name the budget that ran dry
empties that bucket; any other 429 holds every new call to the key until its
``retry_after`` has passed.

Keys: with a mapping of limits, a call's key is the most specific configured
key (``"openai/gpt-4o"`` before ``"openai"``; the models of a provider-level
key share its buckets); with one :class:`Limit`, the provider; with no
matching limit and ``adaptive=True``, ``provider/model`` (OpenAI and most
others limit per model). With no limit and ``adaptive=False`` a call passes
through untouched.

Waiting lives in :mod:`resilience._limiter_wait`, learning from answers in
:mod:`resilience._limiter_feedback`, bucket state behind the store seam of
:mod:`resilience._limiter_store`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from resilience._adaptive import AdaptiveRate
from resilience._call import Call, Handler
from resilience._clock import Clock
from resilience._context import clock_of, current_attempt, current_run
from resilience._errors import ConfigError, ProviderError
from resilience._events import Event, Subscriber, as_callback
from resilience._failure import Failure, Kind
from resilience._limit import KeyState, KeyStatus, Limit
from resilience._limiter_feedback import FeedbackMixin
from resilience._limiter_store import LimiterStore, MemoryStore
from resilience._permit import Permit
from resilience._stream import on_stream_end
from resilience._usage import usage_of

__all__ = ["Limit", "Permit", "RateLimiter"]


class RateLimiter(FeedbackMixin):
    """Pace calls to each provider[/model] under its limits. A pipeline middleware.

    ``limits``: one :class:`Limit` for every provider, or a mapping from
    ``"provider"`` or ``"provider/model"`` to a :class:`Limit`. ``adaptive``:
    learn the request rate from 429s (and take limits stated by headers) where
    none is configured or the configured one proves too high. ``store``: where
    bucket state lives (in memory by default). ``max_wait``: the longest a
    call may wait for admission (besides its own deadline). ``spill_after``:
    the longest a call waits while an outer ``Fallback`` still has another
    target for it; past that it is refused at once (nothing sent) and moves
    there, while a call on its last target keeps waiting.
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
        spill_after: float | None = None,
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
        for name, value in (("max_wait", max_wait), ("spill_after", spill_after)):
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not value >= 0
                or not math.isfinite(value)
            ):
                raise ConfigError(name, value, "seconds >= 0, or None")
        self.max_wait = max_wait
        self.spill_after = spill_after
        self._clock = clock
        self._last_clock: Clock | None = None
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
            permit.release(usage_of(result) if state.rates.token_interval else None)
            return result
        headers = attempt.headers
        if on_stream_end(result, lambda error: permit.end_stream(error, attempt)):
            permit.answered(headers)
            return result
        # Usage only matters where tokens are limited; skip reading it otherwise.
        usage = usage_of(result, attempt.usage) if state.rates.token_interval else None
        permit.release(usage, headers)
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
        clock = self._clock_for_callbacks()
        now = clock.monotonic()
        info = None
        if headers is not None:
            info = self._sync_headers(state, headers, now, force=failure is not None)
        if failure is not None:
            self._feedback_failure(state, failure, now, now - state.latency, info)
        else:
            self._answered(state, clock, ok=True)
            if state.adaptive is not None and state.adaptive.rate is not None:
                state.adaptive.on_success(now, None, state.known_rps())
                self._recompute(state)

    # -- admission ---------------------------------------------------------------------------

    def _clock_for_callbacks(self) -> Clock:
        """The clock for feedback that may arrive outside any pipeline (a
        framework callback): the limiter's own, else the last one it waited on."""
        if self._clock is not None:
            return self._clock
        run = current_run()
        if run is not None:
            return run.clock
        return self._last_clock if self._last_clock is not None else clock_of(None)

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
        self._last_clock = clock
        slot = False
        if state.gated:
            if state.in_flight < (state.capacity or 0) and not state.slot_waiters:
                state.in_flight += 1
            else:
                await self._wait_slot(state, call, clock)
            slot = True
            if state.probing and state.probe_timer is None:
                self._arm_probe(state, clock)
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
        state.last_sent = now
        if state.adaptive is not None:
            state.adaptive.record_send(now)
        return Permit(self, state, call, clock, now, tokens, grant.mark, slot=slot)

    def __repr__(self) -> str:
        what = repr(self._single) if self._single is not None else repr(self._limits or None)
        return f"RateLimiter({what}, adaptive={self.adaptive})"
