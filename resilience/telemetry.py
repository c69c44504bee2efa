"""OpenTelemetry for resilience: spans, span events and metrics from pipeline events.

:class:`Telemetry` is a pipeline subscriber::

    from resilience.telemetry import Telemetry
    pipeline = Pipeline(Fallback(...), Retry(...), hooks=[Telemetry()])

It records, per logical call, a CLIENT span ``"{operation} {model}"`` (GenAI
semantic conventions) whose status is the call's final outcome, and under it
one INTERNAL span ``"attempt {provider}/{model}"`` per try, carrying the
failure's bucket and kind when the try failed. What the pipeline did in
between (limiter waits, breaker rejections and transitions, retries,
fallback hops, features turned off) becomes span events. A streamed call's
spans stay open until its stream ends; an attempt span then carries the
chunks it delivered (``resilience.stream.chunks``) and, when it broke, the
failure and the resume (``resilience.stream.resume`` events).

It needs only ``opentelemetry-api`` and records through the global providers
unless given its own. With no SDK installed the API is a no-op, and so is
nearly all of this. :func:`configure` installs the SDK with the OTLP/HTTP
exporter (the ``otlp`` extra) for whoever has no OpenTelemetry set up yet.

Never recorded: API keys, request or response headers, exception messages,
``Call.metadata``, prompts and completions. The prompt (``Call.payload``) is
recorded only with ``capture_content=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import MeterProvider
from opentelemetry.metrics import _internal as _metrics_api
from opentelemetry.trace import TracerProvider

from resilience._core.errors import ConfigError
from resilience._core.events import (
    AttemptEnded,
    AttemptStarted,
    BreakerReject,
    BreakerStateChange,
    CallEnded,
    CallStarted,
    Degraded,
    Event,
    FallbackHop,
    RateLimitWait,
    RetryScheduled,
    StreamEnded,
    StreamMalformed,
    StreamResumed,
    StreamStarted,
)
from resilience._otel.metrics import Instruments
from resilience._otel.spans import (
    BUCKET,
    KIND,
    RETRY_AFTER,
    Attributes,
    SpanRecorder,
)

__all__ = ["SCOPE", "Telemetry", "configure"]

SCOPE = "resilience"
"""Instrumentation scope name of every span and metric recorded here."""

_SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("llm-resilience")
    except Exception:
        return "0"


# -- span event attributes, built only when the target span records ----------


def _failure(failure: Any, attrs: Attributes) -> Attributes:
    if failure is not None:
        attrs[KIND] = failure.kind.value
        attrs[BUCKET] = failure.bucket.value
    return attrs


def _wait_attrs(e: Event) -> Attributes:
    assert isinstance(e, RateLimitWait)
    return {
        "resilience.ratelimit.wait": e.wait,
        "resilience.ratelimit.dimension": e.dimension,
        "resilience.ratelimit.key": e.key,
    }


def _reject_attrs(e: Event) -> Attributes:
    assert isinstance(e, BreakerReject)
    attrs: Attributes = {"resilience.breaker.key": e.key}
    if e.retry_after is not None:
        attrs[RETRY_AFTER] = e.retry_after
    return attrs


def _state_attrs(e: Event) -> Attributes:
    assert isinstance(e, BreakerStateChange)
    attrs: Attributes = {
        "resilience.breaker.key": e.key,
        "resilience.breaker.old_state": e.old,
        "resilience.breaker.new_state": e.new,
    }
    return _failure(e.failure, attrs)


def _retry_attrs(e: Event) -> Attributes:
    assert isinstance(e, RetryScheduled)
    attrs: Attributes = {"resilience.retry.delay": e.delay}
    if e.attempt is not None:
        attrs["resilience.retry.after_attempt"] = e.attempt
    if e.failure is not None and e.failure.retry_after is not None:
        attrs[RETRY_AFTER] = e.failure.retry_after
    return _failure(e.failure, attrs)


def _fallback_attrs(e: Event) -> Attributes:
    assert isinstance(e, FallbackHop)
    attrs: Attributes = {
        "resilience.fallback.from": e.from_target,
        "resilience.fallback.to": e.to_target,
        "resilience.fallback.reason": e.reason,
    }
    return _failure(e.failure, attrs)


def _resume_attrs(e: Event) -> Attributes:
    assert isinstance(e, StreamResumed)
    attrs: Attributes = {
        "resilience.stream.resume.from": e.from_target,
        "resilience.stream.resume.to": e.to_target,
        "resilience.stream.resume.mechanism": e.mechanism,
        "resilience.stream.chunks": e.chunks,
    }
    return _failure(e.failure, attrs)


def _malformed_attrs(e: Event) -> Attributes:
    return {}


def _degrade_attrs(e: Event) -> Attributes:
    assert isinstance(e, Degraded)
    return {"resilience.degrade.target": e.target, "resilience.degrade.feature": e.feature}


# Whether the API keeps its global providers where this module looks; should
# they ever move, Telemetry.active runs the full check (slower, never wrong).
_PEEK = hasattr(trace, "_TRACER_PROVIDER") and hasattr(_metrics_api, "_METER_PROVIDER")


class Telemetry:
    """A pipeline subscriber that records OpenTelemetry spans and metrics.

    ``tracer_provider`` and ``meter_provider`` default to the global ones
    (resolved when a span or a measurement is made, so configuring the SDK
    after building this still works). ``capture_content=True`` records the
    prompt (``Call.payload``, a string or a list of messages, as JSON) on the
    logical span as ``gen_ai.input.messages``; it is off by default because a
    prompt may hold anything.
    """

    def __init__(
        self,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        capture_content: bool = False,
    ) -> None:
        if not isinstance(capture_content, bool):
            raise ConfigError("capture_content", capture_content, "True or False")
        self.tracer_provider = tracer_provider
        self.meter_provider = meter_provider
        self.capture_content = capture_content
        self._shut = False
        self._live = False
        self._peek = _PEEK and tracer_provider is None and meter_provider is None
        version = _version()
        tracer = trace.get_tracer(
            SCOPE, version, tracer_provider=tracer_provider, schema_url=_SCHEMA_URL
        )
        meter = metrics.get_meter(
            SCOPE, version, meter_provider=meter_provider, schema_url=_SCHEMA_URL
        )
        self._spans = SpanRecorder(tracer, capture_content=capture_content)
        self._metrics = Instruments(meter)
        spans, inst = self._spans, self._metrics

        live = inst.live

        def on_call_ended(e: Any) -> None:
            spans.call_ended(e)
            if live():
                inst.call_ended(e)

        def on_attempt_ended(e: Any) -> None:
            spans.attempt_ended(e)
            if live():
                inst.attempt_ended(e)

        def on_wait(e: Any) -> None:
            spans.add_event(e, "resilience.ratelimit.wait", _wait_attrs)
            if live():
                inst.rate_limit_wait(e)

        def on_state(e: Any) -> None:
            spans.add_event(e, "resilience.breaker.state_change", _state_attrs)
            if live():
                inst.breaker_state_change(e)

        def on_stream_ended(e: Any) -> None:
            spans.stream_ended(e)
            if live():
                inst.stream_ended(e)

        def on_malformed(e: Any) -> None:
            spans.add_event(e, "resilience.stream.malformed", _malformed_attrs)
            if live():
                inst.stream_malformed(e)

        def event(name: str, build: Callable[[Event], Attributes]) -> Callable[[Any], None]:
            return lambda e: spans.add_event(e, name, build)

        self._dispatch: dict[type[Event], Callable[[Any], None]] = {
            CallStarted: spans.call_started,
            CallEnded: on_call_ended,
            AttemptStarted: spans.attempt_started,
            AttemptEnded: on_attempt_ended,
            RateLimitWait: on_wait,
            BreakerReject: event("resilience.breaker.reject", _reject_attrs),
            BreakerStateChange: on_state,
            RetryScheduled: event("resilience.retry", _retry_attrs),
            FallbackHop: event("resilience.fallback", _fallback_attrs),
            Degraded: event("resilience.degrade", _degrade_attrs),
            StreamStarted: spans.stream_started,
            StreamEnded: on_stream_ended,
            StreamResumed: event("resilience.stream.resume", _resume_attrs),
            StreamMalformed: on_malformed,
        }

    def on_event(self, event: Event) -> None:
        """Record one pipeline event (the :class:`~resilience.Hook` protocol)."""
        record = self._dispatch.get(type(event))
        if record is not None:
            record(event)

    @property
    def active(self) -> bool:
        """False while neither spans nor metrics go anywhere (no SDK set up):
        the pipeline then builds no events for this subscriber at all. Asked
        once per call, so it is cheap: once live it stays live (a global
        provider, once set, is never unset), and while the global providers
        are unset the answer is known without asking the API's proxies."""
        if self._live:
            return True
        if (
            self._peek
            and trace._TRACER_PROVIDER is None  # type: ignore[attr-defined]
            and _metrics_api._METER_PROVIDER is None
        ):
            return False
        live = self._live = self._spans.live() or self._metrics.live()
        return live

    @property
    def open_calls(self) -> int:
        """Logical calls whose span is still open; 0 when nothing is in flight."""
        return self._spans.open_calls

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Export what the providers buffered (SDK providers only)."""
        ok = True
        for provider in (self.tracer_provider, self.meter_provider):
            flush = getattr(provider, "force_flush", None)
            if flush is not None:
                ok = bool(flush(timeout_millis)) and ok
        return ok

    def shutdown(self) -> None:
        """Flush and stop the providers given to this instance (SDK ones only).
        Call it before a short program exits, or buffered spans are lost.
        Calling it again does nothing."""
        if self._shut:
            return
        self._shut = True
        for provider in (self.tracer_provider, self.meter_provider):
            stop = getattr(provider, "shutdown", None)
            if stop is not None:
                stop()

    def __repr__(self) -> str:
        return f"Telemetry(capture_content={self.capture_content})"


def _signal_url(endpoint: str, path: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith(path) else f"{base}{path}"


def configure(
    service_name: str | None = None,
    endpoint: str | None = None,
    *,
    headers: Mapping[str, str] | None = None,
    export_metrics: bool = False,
    capture_content: bool = False,
    set_global: bool = True,
) -> Telemetry:
    """Install the OpenTelemetry SDK exporting over OTLP/HTTP; return a
    :class:`Telemetry` bound to it, ready for ``Pipeline(hooks=[...])``.

    ``service_name`` defaults to ``$OTEL_SERVICE_NAME``, else
    ``"resilience-app"``. ``endpoint`` is the collector's base URL (Jaeger:
    ``http://localhost:4318``); without it the exporter reads the standard
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``
    variables, as it does ``OTEL_EXPORTER_OTLP_HEADERS``, ``..._TIMEOUT`` and
    ``..._COMPRESSION``. Spans go through a batch processor (tuned by the
    ``OTEL_BSP_*`` variables); call :meth:`Telemetry.shutdown` before exit.

    Metrics are exported only with ``export_metrics=True``, every
    ``$OTEL_METRIC_EXPORT_INTERVAL`` ms: Jaeger takes traces, not metrics, so
    point those at an OpenTelemetry Collector. ``set_global`` also makes these
    the process-wide providers (OpenTelemetry allows that once per process).

    Needs the ``otlp`` extra: ``pip install 'llm-resilience[otlp]'``.
    """
    if service_name is not None and (not isinstance(service_name, str) or not service_name):
        raise ConfigError("service_name", service_name, "a non-empty string or None")
    if endpoint is not None and (
        not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))
    ):
        raise ConfigError("endpoint", endpoint, "an http(s) URL such as http://localhost:4318")
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ImportError(
            "resilience.telemetry.configure() needs the OpenTelemetry SDK and OTLP exporter: "
            "pip install 'llm-resilience[otlp]'"
        ) from exc

    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or "resilience-app"
    resource = Resource.create({"service.name": name})
    tracer_provider = SdkTracerProvider(resource=resource)
    span_exporter = OTLPSpanExporter(
        endpoint=_signal_url(endpoint, "/v1/traces") if endpoint else None,
        headers=dict(headers) if headers else None,
    )
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))

    meter_provider: Any = None
    if export_metrics:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        metric_exporter = OTLPMetricExporter(
            endpoint=_signal_url(endpoint, "/v1/metrics") if endpoint else None,
            headers=dict(headers) if headers else None,
        )
        reader = PeriodicExportingMetricReader(metric_exporter)
        meter_provider = SdkMeterProvider(resource=resource, metric_readers=[reader])

    if set_global:
        trace.set_tracer_provider(tracer_provider)
        if meter_provider is not None:
            metrics.set_meter_provider(meter_provider)
    return Telemetry(
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
        capture_content=capture_content,
    )
