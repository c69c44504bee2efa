"""Shared by the telemetry tests: an SDK recording in memory, a scripted
provider, and small stand-ins for Retry/Fallback/limiter/breaker that emit the
same events through ``resilience._core.context.emit`` (so these tests do not
depend on how those middlewares decide; the end-to-end test uses the real
ones)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from resilience import (
    BreakerReject,
    BreakerStateChange,
    Call,
    CircuitOpenError,
    Degraded,
    FallbackExhausted,
    FallbackHop,
    ProviderError,
    RateLimitWait,
    RetryScheduled,
    report,
)
from resilience._core.context import clock_of, emit
from resilience.telemetry import Telemetry


class HTTPFailure(Exception):
    """What an SDK raises for an error response: a status code and headers."""

    def __init__(
        self, status: int, body: str = "", headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"Error code: {status} - {body}")
        self.status_code = status
        self.body = body
        self.response = SimpleNamespace(headers=dict(headers or {}))


@dataclass
class Otel:
    """An SDK tracer and meter provider recording in memory."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    telemetry: Telemetry

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name.startswith(prefix)]

    def one(self, name: str) -> ReadableSpan:
        found = [s for s in self.spans() if s.name == name]
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of one metric, after a collection."""
        data = self.reader.get_metrics_data()
        out: list[tuple[dict[str, Any], Any]] = []
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    if m.name == metric:
                        out.extend((dict(p.attributes or {}), p) for p in m.data.data_points)
        return out


def make_otel(capture_content: bool = False) -> Otel:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    tel = Telemetry(tracer_provider=tp, meter_provider=mp, capture_content=capture_content)
    return Otel(exporter, reader, tp, mp, tel)


@dataclass
class Script:
    """A provider that answers each target from a script: an exception to
    raise or a value to return, in order; the last entry repeats."""

    answers: dict[str, list[Any]]
    usage: Mapping[str, int] | None = None
    seen: list[str] = field(default_factory=list)

    async def __call__(self, call: Call) -> Any:
        self.seen.append(call.target)
        queue = self.answers[call.target]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, BaseException):
            raise answer
        report(usage=self.usage, response_model=f"{call.model}-2026-04-01")
        return answer


class Retrying:
    """Stand-in for Retry: up to ``tries`` attempts on retryable failures."""

    repeats_calls = True

    def __init__(self, tries: int = 3, delay: float = 0.0) -> None:
        self.tries = tries
        self.delay = delay

    async def __call__(self, call: Call, handler: Any) -> Any:
        for i in range(self.tries):
            try:
                return await handler(call)
            except ProviderError as exc:
                if i == self.tries - 1 or not exc.failure.retryable:
                    raise
                emit(RetryScheduled, call, delay=self.delay, failure=exc.failure)
                if self.delay:
                    await clock_of(None).sleep(self.delay)
        raise AssertionError("unreachable")


class Hopping:
    """Stand-in for Fallback: on a failover failure, the next target; a
    failure naming a feature drops that feature on the same target first."""

    repeats_calls = True

    def __init__(self, *targets: str) -> None:
        self.targets = targets

    async def __call__(self, call: Call, handler: Any) -> Any:
        errors: list[tuple[str, BaseException]] = []
        current = call
        rest = list(self.targets)
        while True:
            try:
                return await handler(current)
            except (ProviderError, CircuitOpenError) as exc:
                errors.append((current.target, exc))
                failure = exc.failure
                if failure is not None and failure.feature in current.features:
                    emit(Degraded, current, target=current.target, feature=failure.feature)
                    current = current.without(failure.feature)
                    continue
                if not rest or (failure is not None and not failure.failover):
                    raise FallbackExhausted(errors, call=call) from exc
                provider, model = rest.pop(0).split("/", 1)
                nxt = current.replace(provider=provider, model=model)
                reason = failure.kind.value if failure is not None else "circuit_open"
                emit(
                    FallbackHop,
                    nxt,
                    from_target=current.target,
                    to_target=nxt.target,
                    reason=reason,
                    failure=failure,
                )
                current = nxt


class Guard:
    """Stand-in for the limiter and breaker inside an attempt: waits
    ``waits[i]`` seconds before attempt i, and rejects targets in ``open``."""

    def __init__(self, waits: Sequence[float] = (), open: Iterable[str] = ()) -> None:
        self.waits = list(waits)
        self.open = set(open)

    async def __call__(self, call: Call, handler: Any) -> Any:
        if call.target in self.open:
            emit(BreakerReject, call, key=call.target, retry_after=30.0)
            raise CircuitOpenError(call.target, retry_after=30.0, call=call)
        if self.waits:
            wait = self.waits.pop(0)
            if wait:
                emit(RateLimitWait, call, key=call.provider, wait=wait, dimension="tokens")
                await clock_of(None).sleep(wait)
        try:
            return await handler(call)
        except ProviderError as exc:
            if exc.failure.trips_breaker:
                self.open.add(call.target)
                emit(
                    BreakerStateChange,
                    call,
                    key=call.target,
                    old="closed",
                    new="open",
                    failure=exc.failure,
                )
            raise
