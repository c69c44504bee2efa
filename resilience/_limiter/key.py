"""One limiter key: its pace, buckets, queue and feedback, side by side."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from resilience._core.events import Event
from resilience._limiter.adaptive import AdaptiveRate
from resilience._limiter.buckets import Buckets
from resilience._limiter.feedback import Feedback, Verdict
from resilience._limiter.limit import KeyStatus, Limit
from resilience._limiter.pace import Pace
from resilience._limiter.queue import KeyQueue
from resilience._store.limiter import LimiterStore

__all__ = ["Key"]


class Key:
    """The live state of one key, kept by the limiter (never shared).

    ``pace`` says what limits the key, ``buckets`` holds what was spent (in
    the store), ``queue`` orders the calls waiting for a turn or a slot, and
    ``feedback`` turns answers into changes of the other three.
    """

    __slots__ = ("buckets", "feedback", "name", "pace", "queue")

    def __init__(
        self,
        name: str,
        limit: Limit | None,
        learner: AdaptiveRate | None,
        store: LimiterStore,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        hooks: tuple[Callable[[Event], Any], ...],
        on_hold: Callable[[Key, float, float], None],
    ) -> None:
        self.name = name
        self.pace = Pace(limit, learner)
        self.buckets = Buckets(name, store, spawn)
        self.queue = KeyQueue(name, self.pace, self.buckets, hooks)
        verdict: Verdict = lambda until, now: on_hold(self, until, now)  # noqa: E731
        self.feedback = Feedback(self.pace, self.buckets, self.queue, verdict)

    def status(self) -> KeyStatus:
        pace = self.pace
        r = pace.rates
        learned = pace.learner.rate if pace.learner is not None else None
        return KeyStatus(
            key=self.name,
            rpm=60.0 / r.request_interval if r.request_interval else None,
            tpm=pace.tpm,
            configured=pace.limit,
            stated_rpm=pace.stated_rps * 60.0 if pace.stated_rps else None,
            stated_tpm=pace.stated_tps * 60.0 if pace.stated_tps else None,
            learned_rpm=learned * 60.0 if learned is not None else None,
            in_flight=self.queue.in_flight,
            queued=len(self.queue.waiters),
            waiting_for_slot=len(self.queue.slot_waiters),
            hold=self.feedback.hold,
            probing=pace.probing,
        )

    def __repr__(self) -> str:
        return f"<Key {self.name}>"
