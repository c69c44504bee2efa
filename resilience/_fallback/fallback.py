"""Fallback: when a target cannot serve a call, try the next one.

What happens depends on the kind of failure:

- ``failover`` failures (outages, rate limits, quota, auth, billing, a
  missing model) and ``CircuitOpenError`` move to the next target at once;
  a target whose breaker is open costs no request.
- ``context_length``: only targets with a larger context window than the
  model that refused are tried (see :class:`~resilience._fallback.windows.ContextWindows`);
  the others are skipped without a request.
- ``unsupported_feature``: the same target again without the offending
  feature (``tools``, ``json``, ``stream``, ...), and the model is
  remembered, so later calls to it drop the feature up front instead of
  paying for the same 400 again; then the next target if that fails too.
- ``bad_request``, ``content_filter`` (and anything else that is not
  ``failover``): raised as is. Another model would refuse it too.

One deadline, ``call.timeout``, covers every hop and every retry; no hop is
started once it has passed. When every target failed, ``FallbackExhausted``
carries each target's error, and its cause is the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from resilience._core.call import Call, Handler
from resilience._core.clock import Clock
from resilience._core.context import (
    NO_ALTERNATIVES,
    SPILLED,
    RunContext,
    clock_of,
    current_run,
    emit,
)
from resilience._core.errors import (
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    FallbackExhausted,
    ProviderError,
)
from resilience._core.events import Degraded, Event, FallbackHop, Subscriber, as_callback
from resilience._core.failure import Failure, Kind
from resilience._fallback.windows import ContextWindows

__all__ = ["Fallback", "Target"]

Target = str | Callable[[Call], Call | None]
"""``"provider/model"``, or a function from the call to the next call (or
None to skip)."""


def _parse(i: int, target: object) -> Target:
    if isinstance(target, str):
        provider, sep, model = target.partition("/")
        if not sep or not provider or not model:
            raise ConfigError(f"targets[{i}]", target, '"provider/model"')
        return target
    if callable(target):
        return target  # type: ignore[no-any-return]
    raise ConfigError(f"targets[{i}]", target, '"provider/model" or a callable (call) -> Call')


def _handed_over(run: RunContext | None) -> bool:
    """Whether Retry gave the last attempt's failure up only because other
    targets were left."""
    last = run.last if run is not None else None
    return last is not None and last.handed_over


def _out_of_time() -> bool:
    run = current_run()
    if run is None:
        return False
    remaining = run.remaining()
    return remaining is not None and remaining <= 0


class _Rest(Sequence[Call]):
    """The targets Fallback would try after the current one, built only when
    somebody looks (a rate limiter deciding whether a call should move);
    ``then`` is a target it would come back to last."""

    __slots__ = ("_items", "_plan", "_start", "_stop", "_then", "_tried")

    def __init__(
        self,
        plan: Callable[[], list[Call | None]],
        start: int,
        stop: int | None,
        tried: frozenset[str],
        then: Call | None = None,
    ) -> None:
        self._plan = plan
        self._start = start
        self._stop = stop
        self._tried = tried
        self._then = then
        self._items: list[Call] | None = None

    def _calls(self) -> list[Call]:
        items = self._items
        if items is None:
            seen = set(self._tried)
            items = []
            for c in self._plan()[self._start : self._stop]:
                if c is not None and c.target not in seen:
                    seen.add(c.target)
                    items.append(c)
            if self._then is not None:
                items.append(self._then)
            self._items = items
        return items

    def __len__(self) -> int:
        return len(self._calls())

    def __getitem__(self, index: Any) -> Any:
        return self._calls()[index]

    def __iter__(self) -> Iterator[Call]:
        return iter(self._calls())


class _Targets(_Rest):
    """The targets after the call's own one, on the common first try: nothing
    is built unless somebody looks (this runs for every call)."""

    __slots__ = ("_call", "_fallback")

    def __init__(self, fallback: Fallback, call: Call) -> None:
        self._fallback = fallback
        self._call = call
        self._items = None

    def _calls(self) -> list[Call]:
        if self._items is None:
            call = self._call
            self._plan = lambda: list(self._fallback._candidates(call))
            self._start, self._stop, self._then = 1, None, None
            self._tried = frozenset((call.target,))
        return super()._calls()


class Fallback:
    """Try ``targets`` in order after the call's own target fails.

    ``context_windows`` (a :class:`ContextWindows` or a mapping of extra
    entries) sizes models for ``context_length`` failures. ``degrade=False``
    turns off feature removal (an ``unsupported_feature`` then simply moves
    on). A target equal to one already tried in this call is skipped.
    """

    repeats_calls = True

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        context_windows: ContextWindows | Mapping[str, int] | None = None,
        degrade: bool = True,
        clock: Clock | None = None,
        hooks: Sequence[Subscriber] = (),
    ) -> None:
        if isinstance(targets, str) or not isinstance(targets, Sequence):
            raise ConfigError("targets", targets, 'a list of "provider/model" or callables')
        self.targets: tuple[Target, ...] = tuple(_parse(i, t) for i, t in enumerate(targets))
        if context_windows is None:
            context_windows = ContextWindows()
        elif isinstance(context_windows, Mapping):
            context_windows = ContextWindows(context_windows)
        elif not isinstance(context_windows, ContextWindows):
            raise ConfigError("context_windows", context_windows, "ContextWindows or a mapping")
        self.context_windows: ContextWindows = context_windows
        self.degrade = bool(degrade)
        self._clock = clock  # for the wait before coming back to a target (see _hops)
        self._hooks: tuple[Callable[[Event], Any], ...] = tuple(as_callback(h) for h in hooks)
        # target -> features it answered "unsupported" for
        self._unsupported: dict[str, set[str]] = {}

    def unsupported(self, target: str) -> frozenset[str]:
        """Features learned to be unsupported by ``target`` ("provider/model")."""
        return frozenset(self._unsupported.get(target, ()))

    def forget(self, target: str | None = None) -> None:
        """Drop what was learned about ``target`` (every target when None)."""
        if target is None:
            self._unsupported.clear()
        else:
            self._unsupported.pop(target, None)

    def alternatives_to(self, call: Call) -> Iterator[Call | None]:
        """The targets tried after ``call``'s own, in order (None where a
        callable target declines): what a broken stream may continue on."""
        for found in self._next(call):
            yield found if isinstance(found, Call) else None

    def _candidates(self, call: Call) -> Iterator[Call | None]:
        yield call
        for i, nxt in enumerate(self._next(call)):
            if nxt is not None and not isinstance(nxt, Call):
                raise ConfigError(f"targets[{i}]", type(nxt).__name__, "a Call or None")
            yield nxt

    def _next(self, call: Call) -> Iterator[Any]:
        """What each target makes of ``call``, unchecked."""
        for target in self.targets:
            if isinstance(target, str):
                provider, _, model = target.partition("/")
                yield call.replace(provider=provider, model=model)
            else:
                yield target(call)

    def _fits(self, candidate: Call, floor: int | None) -> bool:
        """After a ``context_length`` failure: may ``candidate`` take the call?"""
        window = self.context_windows.get(candidate.target)
        if floor is not None:
            return window is not None and window > floor
        needed = candidate.tokens
        return window is None or needed == 0 or window >= needed

    def _degrade_known(self, candidate: Call) -> Call:
        for feature in sorted(self._unsupported.get(candidate.target, ())):
            if feature in candidate.features:
                candidate = candidate.without(feature)
                emit(Degraded, candidate, self._hooks, target=candidate.target, feature=feature)
        return candidate

    async def __call__(self, call: Call, handler: Handler) -> Any:
        if self._unsupported:
            return await self._hops(call, handler, None)
        # The common case: the call's own target answers at once.
        run = current_run()
        if run is not None:
            run.alternatives = _Targets(self, call) if self.targets else NO_ALTERNATIVES
        try:
            return await handler(call)
        except ProviderError as exc:
            first: ProviderError | CircuitOpenError = exc
        except CircuitOpenError as exc:
            first = exc
        return await self._hops(call, handler, first)

    async def _hops(
        self, call: Call, handler: Handler, first: ProviderError | CircuitOpenError | None
    ) -> Any:
        """Every target in turn; ``first`` is what the call's own target
        already raised, if it was tried. When every target failed, the first
        one that handed the call over only because others were left (an
        outage Retry did not wait out, a rate limiter's spill) is tried once
        more, told that nothing else is left, so that it waits and retries
        there as it would alone (after the Retry-After its failure asked for)."""
        errors: list[tuple[str, BaseException]] = []
        tried: set[str] = set()
        floor: int | None = None  # after context_length: the largest window that refused
        context_failed = False
        previous: Call | None = None
        last_failure: Failure | None = None
        last_reason = ""
        run = current_run()
        plan: list[Call | None] = list(self._candidates(call))
        ordered = len(plan)
        # Targets that handed the call over only because others were left: the
        # first one a rate limiter sent on (busy but healthy), and the first
        # one Retry did not wait out (an outage), with what its failure asked.
        spilled: Call | None = None
        handed: Call | None = None
        wait = 0.0
        position = 0
        while True:
            if position >= len(plan):
                revisit = spilled or handed
                if revisit is None or len(plan) > ordered:
                    break
                if revisit is spilled:
                    wait = 0.0
                if wait > 0.0:
                    remaining = run.remaining() if run is not None else None
                    if remaining is not None and wait >= remaining:
                        break
                    await clock_of(self._clock).sleep(wait)
                plan.append(revisit)
            candidate = plan[position]
            again = position >= ordered
            position += 1
            if candidate is None or (candidate.target in tried and not again):
                continue
            if run is not None:
                run.alternatives = (
                    NO_ALTERNATIVES
                    if again
                    else _Rest(
                        lambda: plan,
                        position,
                        ordered,
                        frozenset((*tried, candidate.target)),
                        spilled,
                    )
                )
            if previous is not None:
                if context_failed and not self._fits(candidate, floor):
                    continue
                if _out_of_time():
                    raise FallbackExhausted(errors, call=call) from errors[-1][1]
                emit(
                    FallbackHop,
                    candidate,
                    self._hooks,
                    from_target=previous.target,
                    to_target=candidate.target,
                    reason=last_reason,
                    failure=last_failure,
                )
            tried.add(candidate.target)
            # The own target, already tried, was sent as it stood.
            current = candidate if first is not None else self._degrade_known(candidate)
            while True:
                try:
                    if first is not None:
                        # The own target's failure, handled as if raised here.
                        pending, first = first, None
                        raise pending
                    return await handler(current)
                except CircuitOpenError as exc:
                    errors.append((current.target, exc))
                    last_failure, last_reason = None, "circuit_open"
                    break
                except ProviderError as exc:
                    failure = exc.failure
                    if isinstance(exc, DeadlineExceeded):
                        raise
                    if (
                        failure.kind is Kind.UNSUPPORTED_FEATURE
                        and self.degrade
                        and failure.feature is not None
                        and failure.feature in current.features
                    ):
                        self._unsupported.setdefault(current.target, set()).add(failure.feature)
                        current = current.without(failure.feature)
                        emit(
                            Degraded,
                            current,
                            self._hooks,
                            target=current.target,
                            feature=failure.feature,
                        )
                        if _out_of_time():
                            errors.append((current.target, exc))
                            raise FallbackExhausted(errors, call=call) from exc
                        continue
                    if not failure.failover:
                        raise
                    if not again:
                        if failure.code == SPILLED:
                            spilled = spilled or current
                        elif handed is None and _handed_over(run):
                            handed = current
                            wait = failure.retry_after or 0.0
                    if failure.kind is Kind.CONTEXT_LENGTH:
                        context_failed = True
                        window = self.context_windows.get(current.target)
                        if window is not None:
                            floor = window if floor is None else max(floor, window)
                    errors.append((current.target, exc))
                    last_failure, last_reason = failure, failure.kind.value
                    break
            previous = current
        raise FallbackExhausted(errors, call=call) from errors[-1][1]

    def __repr__(self) -> str:
        names = [t if isinstance(t, str) else getattr(t, "__name__", "fn") for t in self.targets]
        return f"Fallback({names!r}, degrade={self.degrade})"
