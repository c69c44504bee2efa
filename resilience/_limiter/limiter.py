"""The rate limiter: requests, tokens and calls in flight, per provider[/model].

Per call: take a concurrency slot (FIFO), then one request and
``input_tokens + max_output_tokens`` tokens (FIFO per key: only the head of
the queue asks the store, the others wait their turn); run the call; then
reconcile the tokens with the real usage, read the rate-limit headers, and
feed the adaptive rate. A 429 slows the key down (see
:mod:`resilience._limiter.feedback`) and marks the attempt *paced*: Retry
then sends the call again at once and it waits at the head of the key's
queue, instead of backing off on its own and spending a retry budget meant
for outages.

Keys: with a mapping of limits, a call's key is the most specific configured
key (``"openai/gpt-4o"`` before ``"openai"``; the models of a provider-level
key share its buckets); with one :class:`Limit`, the provider; with no
matching limit and ``adaptive=True``, ``provider/model`` (OpenAI and most
others limit per model). With no limit and ``adaptive=False`` a call passes
through untouched.

The collaborators, one per concern: :class:`~resilience._limiter.key.Key`
(pace, buckets, queue and feedback of one key),
:class:`~resilience._limiter.policy.Admission` (how long a call may wait,
when it moves to another target) and :class:`~resilience._limiter.permit.LimiterPermit`
(one admitted call, settled once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from resilience._core.call import Call, Handler
from resilience._core.clock import Clock
from resilience._core.context import clock_of, current_attempt, current_run
from resilience._core.errors import ConfigError, ProviderError
from resilience._core.events import Event, Subscriber, as_callback
from resilience._core.failure import Failure, Kind
from resilience._core.settle import on_stream_end
from resilience._core.usage import usage_of
from resilience._core.validate import number
from resilience._limiter.adaptive import AdaptiveRate
from resilience._limiter.buckets import spawner
from resilience._limiter.key import Key
from resilience._limiter.limit import KeyStatus, Limit
from resilience._limiter.permit import LimiterPermit
from resilience._limiter.policy import Admission
from resilience._store.limiter import LimiterStore, MemoryStore

__all__ = ["RateLimiter"]


class RateLimiter:
    """Pace calls to each provider[/model] under its limits. A pipeline middleware.

    ``limits``: one :class:`Limit` for every provider, or a mapping from
    ``"provider"`` or ``"provider/model"`` to a :class:`Limit`. ``adaptive``:
    learn the request rate from 429s (and take limits stated by headers) where
    none is configured or the configured one proves too high. ``store``: where
    bucket state lives (in memory by default). ``max_wait``: the longest a
    call may wait for admission (besides its own deadline). ``spill_after``
    (seconds, default 1): inside a Fallback with other targets left, a call
    that would wait longer than this here moves to another target that could
    start it at least that much sooner (nothing sent here): load spreads over
    the targets instead of queueing at the first. None: calls always wait
    their turn at their own target.
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
        spill_after: float | None = 1.0,
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
        for name, value in (("max_wait", max_wait), ("spill_after", spill_after)):
            if value is not None:
                number(name, value, inclusive=True)
        self._admission = Admission(max_wait, spill_after, self._wait_at)
        self._clock = clock
        self._last_clock: Clock | None = None
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)
        self._keys: dict[str, Key] = {}
        self._routes: dict[tuple[str, str], Key | None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._spawn = spawner(self._tasks)

    @property
    def max_wait(self) -> float | None:
        return self._admission.max_wait

    @property
    def spill_after(self) -> float | None:
        return self._admission.spill_after

    # -- keys ------------------------------------------------------------------------------

    def key_for(self, call: Call) -> str | None:
        """The key whose buckets ``call`` uses (None: not limited)."""
        key = self._key(call)
        return key.name if key is not None else None

    def status(self, key: str) -> KeyStatus | None:
        """What the limiter knows about ``key`` (None before its first call)."""
        state = self._keys.get(key)
        return state.status() if state is not None else None

    def _route(self, call: Call) -> tuple[str | None, Limit | None]:
        target = f"{call.provider}/{call.model}"
        if target in self._limits:
            return target, self._limits[target]
        if call.provider in self._limits:
            return call.provider, self._limits[call.provider]
        if self._single is not None:
            return call.provider, self._single
        return (target, None) if self.adaptive else (None, None)

    def _key(self, call: Call) -> Key | None:
        route = (call.provider, call.model)
        try:
            return self._routes[route]
        except KeyError:
            pass
        name, limit = self._route(call)
        key = None
        if name is not None:
            key = self._keys.get(name)
            if key is None:
                learner = AdaptiveRate() if self.adaptive else None
                key = self._keys[name] = Key(
                    name, limit, learner, self._store, self._spawn, self._hooks, self._held
                )
        self._routes[route] = key
        return key

    def _held(self, key: Key, until: float, now: float) -> None:
        admission = self._admission
        key.queue.refuse(lambda waiter: admission.after_hold(key.name, waiter, until, now))

    def _wait_at(self, call: Call, now: float) -> float | None:
        """How long ``call`` would wait at its key now (0: a key not seen yet)."""
        key = self._routes.get((call.provider, call.model))
        if key is None:
            return 0.0
        tokens = float(call.input_tokens + call.max_output_tokens)
        return key.queue.wait_estimate(now, tokens, key.feedback.latency)

    # -- the middleware ----------------------------------------------------------------------

    async def __call__(self, call: Call, handler: Handler) -> Any:
        key = self._key(call)
        if key is None:
            return await handler(call)
        permit = await self._admit(key, call)
        try:
            result = await handler(call)
        except ProviderError as exc:
            attempt = current_attempt()
            headers = attempt.headers if attempt is not None else None
            if permit.fail(exc.failure, headers=headers) and attempt is not None:
                attempt.paced = True
            raise
        except BaseException:
            permit.abandon()
            raise
        attempt = current_attempt()
        if attempt is None:
            permit.release(usage_of(result) if key.pace.rates.token_interval else None)
            return result
        headers = attempt.headers
        if on_stream_end(result, lambda error: permit.end_stream(error, attempt)):
            permit.answered(headers)
            return result
        # Usage only matters where tokens are limited; skip reading it otherwise.
        usage = usage_of(result, attempt.usage) if key.pace.rates.token_interval else None
        permit.release(usage, headers)
        return result

    # -- the low-level API ---------------------------------------------------------------------

    async def acquire(self, call: Call) -> LimiterPermit:
        """Wait for admission; then call exactly one of ``permit.release()`` or
        ``permit.fail(failure)``. Raises like the middleware."""
        key = self._key(call)
        if key is None:
            clock = clock_of(self._clock)
            return LimiterPermit(None, call, clock, clock.monotonic(), 0.0, 0.0, slot=False)
        return await self._admit(key, call)

    def observe(
        self,
        call: Call,
        failure: Failure | None = None,
        headers: Mapping[str, str] | Any | None = None,
    ) -> None:
        """Feedback for a call that went out without a permit."""
        key = self._key(call)
        if key is None:
            return
        clock = self._clock_for_callbacks()
        now = clock.monotonic()
        feedback = key.feedback
        info = None
        if headers is not None:
            info = feedback.read_headers(now, headers, force=failure is not None)
        sent_at = now - feedback.latency
        if failure is not None:
            feedback.throttled(now, sent_at, failure, info)
        else:
            feedback.succeeded(now, sent_at, 0.0, 0.0, None, clock)

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

    def _too_large(self, key: Key, call: Call, tokens: float, tpm: float) -> ProviderError:
        return ProviderError(
            Failure.of(
                Kind.PAYLOAD_TOO_LARGE,
                code="exceeds_limit",
                provider=call.provider,
                message=(
                    f"this call needs {int(tokens)} tokens (input estimate plus "
                    f"max_output_tokens) but {key.name} allows {tpm:g} tokens "
                    "per minute: it can never be sent"
                ),
            ),
            call=call,
        )

    async def _admit(self, key: Key, call: Call) -> LimiterPermit:
        tokens = float(call.input_tokens + call.max_output_tokens)
        pace = key.pace
        if pace.tpm is not None and tokens > pace.tpm:
            raise self._too_large(key, call, tokens, pace.tpm)
        run = current_run()
        clock = self._clock if self._clock is not None else (run.clock if run else clock_of(None))
        self._last_clock = clock
        queue = key.queue
        admission = self._admission
        deadline: float | None = None
        slot = False
        if pace.capacity is not None:
            if not queue.try_slot():
                now = clock.monotonic()
                wait = queue.wait_estimate(now, tokens, key.feedback.latency) or 0.0
                error = admission.spill(key.name, call, run, wait, now)
                if error is not None:
                    raise error
                deadline = admission.deadline(call, run, now)
                await queue.wait_slot(call, clock, deadline, run)
            slot = True
        try:
            now = clock.monotonic()
            seen = None
            if run is not None:
                seen = run.first_seen
                if seen is None:
                    run.first_seen = seen = now
            grant = None if queue.waiters else key.buckets.try_now(now, tokens, pace.rates)
            if grant is None or not grant.admitted:
                # Oldest first: a call that waited elsewhere, or was refused after
                # its turn, keeps its age instead of starting over at the back.
                rank = seen if seen is not None else now
                if grant is None:
                    grant = await queue.estimate(now, tokens, rank)
                if not grant.admitted:
                    dimension = grant.binding or "requests"
                    if deadline is None:
                        deadline = admission.deadline(call, run, now)
                    wait = grant.start - now
                    error = admission.refuse(key.name, call, run, wait, now, deadline, dimension)
                    if error is not None:
                        raise error
                    grant, now = await queue.wait_turn(
                        call, clock, tokens, grant.start, deadline, run, dimension, rank
                    )
        except BaseException:
            if slot:
                queue.free_slot()
            raise
        key.feedback.sent(clock, now)
        return LimiterPermit(key, call, clock, now, tokens, grant.mark, slot=slot)

    def __repr__(self) -> str:
        what = repr(self._single) if self._single is not None else repr(self._limits or None)
        return f"RateLimiter({what}, adaptive={self.adaptive})"
