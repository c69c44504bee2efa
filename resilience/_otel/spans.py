"""Spans from pipeline events: a logical span per call, a child per attempt.

Events arrive one by one and the events of concurrent calls interleave, so
open spans are kept by ``call_id`` (and attempt number) and closed by the
matching end event; ``CallEnded`` closes whatever the call still has open.

Attempt spans get the logical span as parent through an explicit context,
never through whatever happens to be current. Separately, while a span is
open its context is made current in the call's task, so spans the handler
creates itself (an instrumented HTTP client or SDK) nest under the attempt
that sent them.

A streamed call's spans outlive the moment its attempt and call return (the
first chunk): after ``StreamStarted`` their context is detached there, but
the spans stay open until ``StreamEnded`` says how the stream ended, with
how many chunks, and with the resumes as span events.

Nothing here reads ``Call.payload`` or ``Call.metadata`` unless content
capture was asked for, and nothing reads headers, exception messages or
stream content.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import NoOpTracer, ProxyTracer, Span, SpanKind, Status, StatusCode, Tracer

from resilience._core.call import Call
from resilience._core.context import current_attempt
from resilience._core.events import (
    AttemptEnded,
    AttemptStarted,
    CallEnded,
    CallStarted,
    Event,
    StreamEnded,
    StreamStarted,
)
from resilience._core.failure import Failure

__all__ = ["SpanRecorder", "error_type"]

Attributes = dict[str, Any]

# Attribute names, in one place so tests and docs agree with the code.
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
MAX_TOKENS = "gen_ai.request.max_tokens"
INPUT_MESSAGES = "gen_ai.input.messages"
ERROR_TYPE = "error.type"
RESEND_COUNT = "http.request.resend_count"
STATUS_CODE = "http.response.status_code"
BUCKET = "resilience.failure.bucket"
KIND = "resilience.failure.kind"
CODE = "resilience.failure.code"
RETRY_AFTER = "resilience.retry_after"
ATTEMPTS = "resilience.attempts"
SERVED_BY = "resilience.served_by"
CHUNKS = "resilience.stream.chunks"
RESUMES = "resilience.stream.resumes"

# Usage keys as adapters report them, and the spellings OpenAI-style APIs use.
_INPUT_KEYS = ("input_tokens", "prompt_tokens")
_OUTPUT_KEYS = ("output_tokens", "completion_tokens")


def error_type(error: BaseException | None, failure: Failure | None) -> str | None:
    """Low-cardinality ``error.type``: the failure kind, else the exception's
    class name (never its message, which may carry provider text)."""
    if failure is not None:
        return failure.kind.value
    if error is not None:
        return type(error).__qualname__
    return None


def failure_attributes(
    error: BaseException | None, failure: Failure | None, attrs: Attributes
) -> Attributes:
    kind = error_type(error, failure)
    if kind is not None:
        attrs[ERROR_TYPE] = kind
    if failure is not None:
        attrs[BUCKET] = failure.bucket.value
        attrs[KIND] = failure.kind.value
        if failure.status is not None:
            attrs[STATUS_CODE] = failure.status
        if failure.retry_after is not None:
            attrs[RETRY_AFTER] = failure.retry_after
        if failure.code:
            attrs[CODE] = str(failure.code)[:64]
    return attrs


def _usage(usage: Mapping[str, int] | None, attrs: Attributes) -> None:
    if not usage:
        return
    for names, attr in ((_INPUT_KEYS, INPUT_TOKENS), (_OUTPUT_KEYS, OUTPUT_TOKENS)):
        for name in names:
            value = usage.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                attrs[attr] = value
                break


def _messages(payload: Any) -> str | None:
    """The prompt as JSON, for the explicit content-capture opt-in only."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, list | tuple):
        try:
            return json.dumps(list(payload), default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return None
    return None


class _Attempt:
    __slots__ = ("call", "span", "token")

    def __init__(self, span: Span, token: object | None, call: Call | None) -> None:
        self.span = span
        self.token = token
        self.call = call


class _Open:
    """One logical call in flight."""

    __slots__ = ("attempts", "context", "count", "served_by", "span", "streams", "token")

    def __init__(self, span: Span, context: otel_context.Context, token: object | None) -> None:
        self.span = span
        self.context = context
        self.token = token
        self.attempts: dict[int, _Attempt] = {}
        self.count = 0
        self.served_by: str | None = None
        self.streams: set[int] = set()  # attempts whose stream reached the caller


def _detach(token: object | None) -> None:
    if token is not None:
        otel_context.detach(token)  # type: ignore[arg-type]


class SpanRecorder:
    """Opens and closes spans as the events of many calls arrive."""

    def __init__(self, tracer: Tracer, *, capture_content: bool = False) -> None:
        self._tracer = tracer
        self._capture = capture_content
        self._open: dict[int, _Open] = {}

    def live(self) -> bool:
        """Whether spans go anywhere. The API's proxy tracer forwards to a real
        one once an SDK provider is set; until then every span is a no-op."""
        tracer: Any = self._tracer
        if isinstance(tracer, ProxyTracer):
            tracer = tracer._tracer
        return not isinstance(tracer, NoOpTracer)

    @property
    def open_calls(self) -> int:
        """Calls with a span still open (0 once every call has ended)."""
        return len(self._open)

    # -- logical call ---------------------------------------------------

    def call_started(self, event: CallStarted) -> None:
        call = event.call
        if call is None:
            return
        attrs: Attributes = {
            OPERATION: call.operation,
            PROVIDER: call.provider,
            REQUEST_MODEL: call.model,
        }
        span = self._tracer.start_span(
            f"{call.operation} {call.model}", kind=SpanKind.CLIENT, attributes=attrs
        )
        if not span.get_span_context().is_valid:
            # The no-op API: nothing to close, nothing to propagate, and the
            # call's other events find no entry and cost a dict lookup each.
            return
        ctx = trace.set_span_in_context(span)
        token = otel_context.attach(ctx)
        if span.is_recording():
            if call.max_output_tokens:
                span.set_attribute(MAX_TOKENS, call.max_output_tokens)
            if self._capture:
                text = _messages(call.payload)
                if text is not None:
                    span.set_attribute(INPUT_MESSAGES, text)
        self._open[event.call_id] = _Open(span, ctx, token)

    def call_ended(self, event: CallEnded) -> None:
        entry = self._open.get(event.call_id)
        if entry is None:
            return
        if entry.streams and event.error is None:
            # Handed over as a stream: the span ends with it (stream_ended).
            _detach(entry.token)
            entry.token = None
            self._call_attributes(entry, event)
            return
        del self._open[event.call_id]
        # Whatever attempt is still open (a subscriber that missed an event)
        # ends with the call rather than leaking. Its context token is not
        # detached: it may belong to another task, and resetting the call's
        # own token below restores what was current before the call anyway.
        for attempt in entry.attempts.values():
            attempt.span.end()
        _detach(entry.token)
        self._call_attributes(entry, event)
        entry.span.end()

    def _call_attributes(self, entry: _Open, event: CallEnded) -> None:
        span = entry.span
        if span.is_recording():
            attrs: Attributes = {ATTEMPTS: entry.count}
            if event.response_model:
                attrs[RESPONSE_MODEL] = event.response_model
            _usage(event.usage, attrs)
            if event.error is None:
                if entry.served_by is not None:
                    attrs[SERVED_BY] = entry.served_by
            else:
                failure_attributes(event.error, event.failure, attrs)
                span.set_status(Status(StatusCode.ERROR, attrs[ERROR_TYPE]))
            span.set_attributes(attrs)

    # -- streams ------------------------------------------------------

    def stream_started(self, event: StreamStarted) -> None:
        entry = self._open.get(event.call_id)
        if entry is not None and event.attempt is not None:
            entry.streams.add(event.attempt)

    def stream_ended(self, event: StreamEnded) -> None:
        entry = self._open.get(event.call_id)
        if entry is None:
            return
        if event.attempt is not None:
            attempt = entry.attempts.pop(event.attempt, None)
            if attempt is not None:
                _detach(attempt.token)
                self._end_stream(attempt.span, event, {CHUNKS: event.chunks})
            return
        del self._open[event.call_id]
        for attempt in entry.attempts.values():
            attempt.span.end()
        _detach(entry.token)
        attrs: Attributes = {CHUNKS: event.chunks, RESUMES: event.resumes, ATTEMPTS: entry.count}
        self._end_stream(entry.span, event, attrs)

    @staticmethod
    def _end_stream(span: Span, event: StreamEnded, attrs: Attributes) -> None:
        if span.is_recording():
            if event.error is not None:
                failure_attributes(event.error, event.failure, attrs)
                span.set_status(Status(StatusCode.ERROR, attrs[ERROR_TYPE]))
            span.set_attributes(attrs)
        span.end()

    # -- attempts -------------------------------------------------------

    def attempt_started(self, event: AttemptStarted) -> None:
        entry = self._open.get(event.call_id)
        if entry is None or event.attempt is None or not entry.span.is_recording():
            # No logical span, or one nobody records: its children would be
            # dropped anyway, so skip them at no cost.
            return
        entry.count += 1
        call = event.call
        attrs: Attributes = {}
        name = "attempt"
        if call is not None:
            attrs[OPERATION] = call.operation
            attrs[PROVIDER] = call.provider
            attrs[REQUEST_MODEL] = call.model
            name = f"attempt {call.provider}/{call.model}"
        if event.attempt >= 1:
            attrs[RESEND_COUNT] = event.attempt
        span = self._tracer.start_span(
            name, context=entry.context, kind=SpanKind.INTERNAL, attributes=attrs
        )
        token = otel_context.attach(trace.set_span_in_context(span, entry.context))
        entry.attempts[event.attempt] = _Attempt(span, token, call)

    def attempt_ended(self, event: AttemptEnded) -> None:
        entry = self._open.get(event.call_id)
        if entry is None or event.attempt is None:
            return
        streamed = event.error is None and event.attempt in entry.streams
        attempt = (entry.attempts.get if streamed else entry.attempts.pop)(event.attempt, None)
        if attempt is None:
            return
        _detach(attempt.token)
        attempt.token = None
        span = attempt.span
        attrs: Attributes = {}
        if event.error is None:
            if attempt.call is not None:
                entry.served_by = attempt.call.target
            state = current_attempt()
            if state is not None and state.number == event.attempt:
                if state.response_model:
                    attrs[RESPONSE_MODEL] = state.response_model
                _usage(state.usage, attrs)
        else:
            failure_attributes(event.error, event.failure, attrs)
            span.set_status(Status(StatusCode.ERROR, attrs[ERROR_TYPE]))
        if attrs:
            span.set_attributes(attrs)
        if not streamed:  # a stream's attempt ends with its stream (stream_ended)
            span.end()

    # -- span events ----------------------------------------------------

    def target(self, event: Event) -> Span | None:
        """The recording span an event belongs on: its attempt's when that is
        open, else its call's, else (an event outside any call, such as a
        breaker closing on a timer) the current span; None if none records."""
        if event.call_id:
            entry = self._open.get(event.call_id)
            if entry is None:  # a call nobody records
                return None
            span = entry.span
            if event.attempt is not None:
                attempt = entry.attempts.get(event.attempt)
                if attempt is not None:
                    span = attempt.span
        else:
            span = trace.get_current_span()
        return span if span.is_recording() else None

    def add_event(self, event: Event, name: str, build: Callable[[Event], Attributes]) -> None:
        span = self.target(event)
        if span is not None:
            span.add_event(name, build(event))
