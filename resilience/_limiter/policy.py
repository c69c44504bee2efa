"""When a call may wait for its turn, and when it should go elsewhere.

A call waits at most until its deadline (the run's, or ``call.timeout``
outside a pipeline) and the limiter's ``max_wait``; a wait known to pass
that is refused at once (``local_rate_limit``), so an outer Fallback can use
the time left. Inside a Fallback that still has targets for the call
(``RunContext.alternatives``), a call whose wait here is longer than
``spill_after`` moves (``local_spill``) when another target could start it
at least ``spill_after`` seconds sooner: load spreads over the targets
instead of queueing at the first one while the others idle. On its last
target a call keeps its place.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import islice

from resilience._core.call import Call
from resilience._core.context import RunContext
from resilience._core.errors import ProviderError
from resilience._limiter.queue import SPILLED, Waiter, refusal

__all__ = ["Admission"]

_LOOK_AHEAD = 4  # alternatives compared at most: the nearest ones are what Fallback tries next


class Admission:
    """The limiter's waiting rules. ``estimate(call, now)`` is the wait a call
    would face at its own key (None: not known)."""

    __slots__ = ("_estimate", "max_wait", "spill_after")

    def __init__(
        self,
        max_wait: float | None,
        spill_after: float | None,
        estimate: Callable[[Call, float], float | None],
    ) -> None:
        self.max_wait = max_wait
        self.spill_after = spill_after
        self._estimate = estimate

    def deadline(self, call: Call, run: RunContext | None, now: float) -> float:
        """The clock reading past which ``call`` stops waiting (``inf``: never)."""
        budget = run.remaining() if run is not None else call.timeout
        max_wait = self.max_wait
        if max_wait is not None and (budget is None or max_wait < budget):
            budget = max_wait
        return math.inf if budget is None else now + budget

    def spill(
        self, key: str, call: Call, run: RunContext | None, wait: float, now: float
    ) -> ProviderError | None:
        """The refusal that moves ``call`` to another target, or None to stay."""
        spill_after = self.spill_after
        if spill_after is None or run is None or wait <= spill_after or not run.alternatives:
            return None
        best = math.inf
        for other in islice(run.alternatives, _LOOK_AHEAD):
            estimate = self._estimate(other, now)
            if estimate is not None and estimate < best:
                best = estimate
        if best + spill_after >= wait:
            return None
        return refusal(
            key,
            call,
            wait,
            f"{wait:.3f}s to wait here, another target could start in {best:.3f}s",
            SPILLED,
        )

    def refuse(
        self,
        key: str,
        call: Call,
        run: RunContext | None,
        wait: float,
        now: float,
        deadline: float,
        dimension: str,
    ) -> ProviderError | None:
        """Why ``call`` should not wait ``wait`` seconds for its turn (None: it
        may); ``dimension`` names what holds it back."""
        error = self.spill(key, call, run, wait, now)
        if error is None and now + wait > deadline:
            why = f"{dimension}: {wait:.3f}s to wait, {deadline - now:.3f}s allowed"
            error = refusal(key, call, wait, why)
        return error

    def after_hold(
        self, key: str, waiter: Waiter, until: float, now: float
    ) -> ProviderError | None:
        """A pushback moved the key's next start to ``until``: refuse a waiting
        call whose deadline it passes, or that another target could serve sooner."""
        if waiter.deadline < until:
            return refusal(key, waiter.call, until - now, "pushback: the provider asked to wait")
        return self.spill(key, waiter.call, waiter.run, until - now, now)
