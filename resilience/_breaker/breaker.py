"""CircuitBreaker: stop sending calls to a target that is down.

pybreaker's state machine (closed -> open -> half-open -> closed) and its
storage contract (see :mod:`resilience._store.breaker`), made for asyncio
and LLM traffic:

- Keys: one breaker per ``provider/model`` and one per ``provider``. A dead
  model opens only its own key; the provider key opens when two or more of
  its models trip within ``window`` seconds (a provider-wide outage), and
  then fails every model of that provider at once.
- Trips on ``failure_threshold`` consecutive failures, or on a failure rate
  of at least ``failure_rate`` over a rolling ``window`` once ``min_calls``
  calls were seen, whichever comes first.
- Counts only failures whose ``trips_breaker`` is true (5xx, 529, timeouts,
  connection errors, a stream broken after its first chunk: a stream's
  verdict waits for its end). A 429 or a 400 proves the provider is up: in the
  closed state they count as neither success nor failure (so a burst of
  429s cannot trip it, and cannot hide an outage either); for a half-open
  probe, an answered request is the proof of life it was sent for.
- Open for ``reset_timeout`` seconds plus up to 20% jitter (never less, so
  that workers do not probe in lockstep), and again for as long after every
  failed probe: a target that heals is back within about ``reset_timeout``.
  Growth is opt-in: ``backoff_factor`` > 1 multiplies the open time per trip
  in a row, up to ``max_reset_timeout`` (by default twice
  ``reset_timeout``); a longer ``retry_after`` from the provider is honoured
  up to that cap too.
- While open, a call fails at once with ``CircuitOpenError`` (never waits,
  never reaches the rate limiter inside). Half-open admits at most
  ``half_open_probes`` calls at a time, where pybreaker lets every
  concurrent caller through; ``half_open_probes`` successes close it.
"""

from __future__ import annotations

import asyncio
import logging
import random as _random
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from resilience._breaker.permit import BreakerListener, BreakerPermit, Entries
from resilience._core.call import Call, Handler
from resilience._core.clock import Clock
from resilience._core.context import clock_of, current_attempt, current_run, emit, random_of
from resilience._core.errors import CircuitOpenError, ConfigError, ProviderError
from resilience._core.events import (
    BreakerReject,
    BreakerStateChange,
    Event,
    Subscriber,
    as_callback,
)
from resilience._core.failure import Failure
from resilience._core.rolling import RollingCounts
from resilience._core.settle import on_stream_end
from resilience._core.validate import number
from resilience._store.breaker import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    STATES,
    BreakerRecord,
    BreakerStore,
    MemoryBreakerStore,
)

__all__ = ["BreakerListener", "BreakerPermit", "CircuitBreaker"]

log = logging.getLogger("resilience")

# How many distinct models must trip before the provider key opens.
PROVIDER_MODELS = 2
# The open time is lengthened by up to this share, at random.
JITTER = 0.2


class _Local:
    """What one process keeps about a key beside the shared record."""

    __slots__ = ("generation", "models", "probes", "seen", "window")

    def __init__(self, window: float, state: str) -> None:
        self.window = RollingCounts(window)  # (calls, failures)
        self.probes = 0  # half-open probes in flight
        self.generation = 0  # bumped on every transition; older permits lose their vote
        self.seen = state  # the state this process last acted on
        self.models: dict[str, float] = {}  # provider keys: model -> last trip time


def _count(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(field, value, "an int >= 1")
    return value


class CircuitBreaker:
    """Fail fast while a provider or model is down. See the module docs."""

    def __init__(
        self,
        *,
        failure_threshold: int = 5,
        failure_rate: float = 0.5,
        window: float = 30.0,
        min_calls: int = 10,
        reset_timeout: float = 15.0,
        max_reset_timeout: float | None = None,
        backoff_factor: float = 1.0,
        half_open_probes: int = 1,
        per_model: bool = True,
        store: BreakerStore | None = None,
        clock: Clock | None = None,
        random: _random.Random | None = None,
        hooks: Sequence[Subscriber] = (),
        listeners: Sequence[BreakerListener | Callable[[BreakerStateChange], Any]] = (),
    ) -> None:
        self.failure_threshold = _count("failure_threshold", failure_threshold)
        self.failure_rate = number("failure_rate", failure_rate)
        if self.failure_rate > 1.0:
            raise ConfigError("failure_rate", failure_rate, "a share in (0, 1]")
        self.window = number("window", window)
        self.min_calls = _count("min_calls", min_calls)
        self.reset_timeout = number("reset_timeout", reset_timeout)
        if max_reset_timeout is None:
            max_reset_timeout = 2.0 * self.reset_timeout
        self.max_reset_timeout = number("max_reset_timeout", max_reset_timeout)
        if self.max_reset_timeout < self.reset_timeout:
            raise ConfigError(
                "max_reset_timeout", max_reset_timeout, f">= reset_timeout ({reset_timeout})"
            )
        self.backoff_factor = number("backoff_factor", backoff_factor, minimum=1.0, inclusive=True)
        self.half_open_probes = _count("half_open_probes", half_open_probes)
        self.per_model = bool(per_model)
        if store is not None and not isinstance(store, BreakerStore):
            raise ConfigError("store", store, "a BreakerStore (record(key), saved(...))")
        self.store: BreakerStore = store if store is not None else MemoryBreakerStore()
        self._clock = clock
        self._random = random
        self._fallback_random = _random.Random()  # outside a pipeline without random=
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)
        self._listeners = tuple(listeners)
        for i, listener in enumerate(self._listeners):
            if not isinstance(listener, BreakerListener) and not callable(listener):
                raise ConfigError(
                    f"listeners[{i}]", listener, "on_state_change(key, old, new) or a callable"
                )
        self._local: dict[str, _Local] = {}

    # -- the middleware ------------------------------------------------------

    async def __call__(self, call: Call, handler: Handler) -> Any:
        permit = self.allow(call)
        try:
            result = await handler(call)
        except ProviderError as exc:
            permit.failure(exc.failure)
            raise
        except asyncio.CancelledError:
            attempt = current_attempt()
            timeout = attempt.timed_out if attempt is not None else None
            if timeout is not None:
                permit.failure(timeout)
            else:
                permit.cancel()
            raise
        except BaseException:
            permit.cancel()
            raise
        # A stream arrives here after its first chunk; its verdict waits for its
        # end, since a stream that dies mid-way is as much an outage as a 503.
        if not on_stream_end(result, permit.stream_ended):
            permit.success()
        return result

    # -- the low-level API ---------------------------------------------------

    def keys_for(self, call: Call) -> tuple[str, ...]:
        """The breaker keys ``call`` must pass, widest first."""
        if self.per_model:
            return (call.provider, call.target)
        return (call.provider,)

    def allow(self, call: Call) -> BreakerPermit:
        """Admit ``call`` or raise ``CircuitOpenError`` at once.

        In half-open state the permit holds a probe slot until it reports an
        outcome. Nothing is taken unless every key admits the call.
        """
        if self.per_model:
            # The common case: both keys closed and in sync with their records.
            provider = call.provider
            target = f"{provider}/{call.model}"
            local = self._local
            prov_rec = self.store.record(provider)
            prov = local.get(provider)
            if prov is not None and prov_rec.state == STATE_CLOSED == prov.seen:
                rec = self.store.record(target)
                loc = local.get(target)
                if loc is not None and rec.state == STATE_CLOSED == loc.seen:
                    # A closed provider key never takes a verdict from a model's
                    # call (see _count), so the permit carries only the target.
                    return BreakerPermit(self, call, [(target, loc.generation, False)])
        return self._allow(call)

    def _allow(self, call: Call) -> BreakerPermit:
        now = clock_of(self._clock).monotonic()
        keys = self.keys_for(call)
        probes: list[bool] = []
        for key in keys:
            rec, loc = self._get(key)
            self._sync(key, rec, loc, now, call)
            if rec.state == STATE_OPEN:
                if now < rec.open_until:
                    self._reject(call, key, rec.open_until - now)
                self._transition(key, rec, loc, STATE_HALF_OPEN, now, call, None)
            if rec.state == STATE_HALF_OPEN:
                if loc.probes >= self.half_open_probes:
                    self._reject(call, key, None)
                probes.append(True)
            else:
                probes.append(False)
        entries: Entries = []
        for key, probe in zip(keys, probes, strict=True):
            loc = self._local[key]
            if probe:
                loc.probes += 1
            entries.append((key, loc.generation, probe))
        return BreakerPermit(self, call, entries)

    def state(self, key: str) -> str:
        """``"closed"``, ``"open"`` or ``"half-open"``: what a call arriving
        now would meet at ``key`` (``provider`` or ``provider/model``)."""
        rec = self.store.record(key)
        if rec.state == STATE_OPEN and clock_of(self._clock).monotonic() >= rec.open_until:
            return STATE_HALF_OPEN
        return rec.state

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` lets a probe through, or None unless open."""
        rec = self.store.record(key)
        if rec.state != STATE_OPEN:
            return None
        return max(0.0, rec.open_until - clock_of(self._clock).monotonic())

    def reset(self, key: str) -> None:
        """Close ``key`` by hand (after a fix was deployed, say)."""
        rec, loc = self._get(key)
        if rec.state != STATE_CLOSED:
            now = clock_of(self._clock).monotonic()
            self._transition(key, rec, loc, STATE_CLOSED, now, None, None)
            rec.trips = 0

    # -- internals ------------------------------------------------------------

    def _get(self, key: str) -> tuple[BreakerRecord, _Local]:
        rec = self.store.record(key)
        loc = self._local.get(key)
        if loc is None:
            loc = self._local[key] = _Local(self.window, rec.state)
        return rec, loc

    def _sync(self, key: str, rec: BreakerRecord, loc: _Local, now: float, call: Call) -> None:
        """Take over a state another process wrote into a shared record."""
        if rec.state == loc.seen:
            return
        if rec.state not in STATES:
            log.warning("resilience: breaker %s: unknown stored state, treating as closed", key)
            rec.state = STATE_CLOSED
        old, loc.seen = loc.seen, rec.state
        loc.generation += 1
        loc.probes = 0
        loc.window.clear()
        self._announce(key, old, rec.state, call, None, now)

    def _reject(self, call: Call, key: str, retry_after: float | None) -> NoReturn:
        emit(BreakerReject, call, self._hooks, key=key, retry_after=retry_after)
        raise CircuitOpenError(key, retry_after=retry_after, call=call)

    def _settle(
        self,
        call: Call,
        entries: Entries,
        outcome: str,
        failure: Failure | None,
    ) -> None:
        try:
            now = clock_of(self._clock).monotonic()
        except RuntimeError:  # no running loop (a permit collected late)
            now = None
        if outcome == "success" and now is not None and len(entries) == 1:
            # The common case: one closed model key, a success.
            key, generation, probe = entries[0]
            rec = self.store.record(key)
            loc = self._local.get(key)
            if (
                not probe
                and loc is not None
                and generation == loc.generation
                and rec.state == STATE_CLOSED
                and self.per_model
                and key != call.provider
            ):
                loc.window.add(now, 1)
                if rec.counter:
                    rec.reset_counter()
                return
        for key, generation, probe in entries:
            rec, loc = self._get(key)
            current = generation == loc.generation
            if probe and current:
                loc.probes = max(0, loc.probes - 1)
            if not current or now is None:
                continue  # decided under a state that has since changed
            verdict = self._verdict(outcome, failure, rec.state)
            if verdict is None:
                continue
            if rec.state == STATE_HALF_OPEN and probe:
                if verdict:
                    rec.increment_success_counter()
                    if rec.success_counter >= self.half_open_probes:
                        self._transition(key, rec, loc, STATE_CLOSED, now, call, None)
                else:
                    self._trip(key, rec, loc, now, call, failure)
            elif rec.state == STATE_CLOSED:
                self._count(key, rec, loc, now, call, failure, verdict)

    @staticmethod
    def _verdict(outcome: str, failure: Failure | None, state: str) -> bool | None:
        """True for success, False for a counted failure, None for no verdict."""
        if outcome == "success":
            return True
        if outcome == "cancel" or failure is None:
            return None
        if failure.trips_breaker:
            return False
        if state == STATE_HALF_OPEN and failure.status is not None:
            return True  # the provider answered: it is up
        return None

    def _count(
        self,
        key: str,
        rec: BreakerRecord,
        loc: _Local,
        now: float,
        call: Call,
        failure: Failure | None,
        ok: bool,
    ) -> None:
        if self.per_model and key == call.provider:
            return  # provider keys trip from their models' trips, see _trip
        if ok:
            loc.window.add(now, a=1)
            rec.reset_counter()
            return
        loc.window.add(now, a=1, b=1)
        rec.increment_counter()
        calls, failures = loc.window.totals(now)
        if rec.counter >= self.failure_threshold or (
            calls >= self.min_calls and failures >= self.failure_rate * calls
        ):
            self._trip(key, rec, loc, now, call, failure)

    def _trip(
        self,
        key: str,
        rec: BreakerRecord,
        loc: _Local,
        now: float,
        call: Call,
        failure: Failure | None,
    ) -> None:
        if rec.state == STATE_HALF_OPEN or now - rec.closed_at < self.max_reset_timeout:
            rec.trips += 1
        else:
            rec.trips = 1
        duration = self.reset_timeout * self.backoff_factor ** min(rec.trips - 1, 64)
        rng = random_of(self._random, self._fallback_random)
        duration = min(self.max_reset_timeout, duration * (1.0 + JITTER * rng.random()))
        if failure is not None and failure.retry_after is not None:
            duration = max(duration, min(failure.retry_after, self.max_reset_timeout))
        rec.opened_at = now
        rec.open_until = now + duration
        run = current_run()
        if run is not None:
            run.block(key, rec.open_until)
        self._transition(key, rec, loc, STATE_OPEN, now, call, failure)
        if self.per_model and key == call.target:
            self._model_tripped(call, now, failure)

    def _model_tripped(self, call: Call, now: float, failure: Failure | None) -> None:
        key = call.provider
        rec, loc = self._get(key)
        loc.models[call.model] = now
        for model, when in list(loc.models.items()):
            if now - when > self.window:
                del loc.models[model]
        if rec.state == STATE_CLOSED and len(loc.models) >= PROVIDER_MODELS:
            loc.models.clear()
            self._trip(key, rec, loc, now, call, failure)

    def _transition(
        self,
        key: str,
        rec: BreakerRecord,
        loc: _Local,
        new: str,
        now: float,
        call: Call | None,
        failure: Failure | None,
    ) -> None:
        old = rec.state
        rec.state = new
        rec.reset_counter()
        rec.reset_success_counter()
        if new == STATE_CLOSED:
            rec.closed_at = now
            rec.opened_at = None
        loc.seen = new
        loc.generation += 1
        loc.probes = 0
        loc.window.clear()
        try:
            self.store.saved(key, rec, now)
        except Exception:
            log.exception("resilience: breaker store failed to save %s", key)
        self._announce(key, old, new, call, failure, now)

    def _announce(
        self, key: str, old: str, new: str, call: Call | None, failure: Failure | None, now: float
    ) -> None:
        emit(BreakerStateChange, call, self._hooks, key=key, old=old, new=new, failure=failure)
        if not self._listeners:
            return
        event = BreakerStateChange(call=call, time=now, key=key, old=old, new=new, failure=failure)
        for listener in self._listeners:
            try:
                if isinstance(listener, BreakerListener):
                    listener.on_state_change(key, old, new)
                else:
                    listener(event)
            except Exception:
                log.exception("resilience: breaker listener %r failed", listener)

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold}, "
            f"failure_rate={self.failure_rate}, window={self.window}, "
            f"reset_timeout={self.reset_timeout}, half_open_probes={self.half_open_probes})"
        )
