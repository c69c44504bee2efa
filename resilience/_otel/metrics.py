"""Metrics from pipeline events.

Attributes stay low-cardinality: provider, model, kind, bucket, dimension,
breaker key and state. Never a call id, a message or anything from a prompt.
"""

from __future__ import annotations

from typing import Any

from opentelemetry.metrics import Meter, NoOpCounter

from resilience._core.errors import CircuitOpenError
from resilience._core.events import (
    AttemptEnded,
    BreakerStateChange,
    CallEnded,
    RateLimitWait,
    StreamEnded,
    StreamMalformed,
)
from resilience._otel.spans import (
    BUCKET,
    ERROR_TYPE,
    KIND,
    OPERATION,
    PROVIDER,
    REQUEST_MODEL,
    error_type,
)

__all__ = ["Instruments"]

# The GenAI semantic conventions' advised boundaries for call durations (s)
# and token counts; a limiter wait falls in the same range as a call.
_SECONDS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)
_TOKENS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216)


class Instruments:
    """The meters' instruments and how each event feeds them."""

    def __init__(self, meter: Meter) -> None:
        self.failures = meter.create_counter(
            "resilience.failures",
            unit="{failure}",
            description="Failed attempts, by failure bucket, kind and provider.",
        )
        self.wait = meter.create_histogram(
            "resilience.ratelimit.wait",
            unit="s",
            description="Time a call waited for the rate limiter.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.attempt_duration = meter.create_histogram(
            "resilience.attempt.duration",
            unit="s",
            description="Duration of one attempt against one target.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.breaker_changes = meter.create_counter(
            "resilience.breaker.state_changes",
            unit="{change}",
            description="Circuit breaker transitions, by breaker key and new state.",
        )
        self.operation_duration = meter.create_histogram(
            "gen_ai.client.operation.duration",
            unit="s",
            description="Duration of the logical call, every attempt and wait included.",
            explicit_bucket_boundaries_advisory=_SECONDS,
        )
        self.malformed = meter.create_counter(
            "resilience.stream.malformed",
            unit="{event}",
            description="Stream events that could not be decoded, by provider.",
        )
        self.token_usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            description="Tokens used by successful calls, as the provider reported them.",
            explicit_bucket_boundaries_advisory=_TOKENS,
        )

    def live(self) -> bool:
        """Whether measurements go anywhere. With no SDK, the API hands out
        proxy instruments that forward to a real one once a provider is set;
        until then building attributes would be wasted. (Reads the proxy's
        private field; if that ever changes, this says True: slower, not wrong.)"""
        real = getattr(self.failures, "_real_instrument", self.failures)
        return real is not None and not isinstance(real, NoOpCounter)

    def attempt_ended(self, event: AttemptEnded) -> None:
        call = event.call
        attrs: dict[str, Any] = {}
        if call is not None:
            attrs[PROVIDER] = call.provider
            attrs[REQUEST_MODEL] = call.model
        kind = error_type(event.error, event.failure)
        if kind is not None:
            attrs[ERROR_TYPE] = kind
        self.attempt_duration.record(max(event.duration, 0.0), attrs)
        failure = event.failure
        # What a provider or the network did counts; a breaker rejection sent
        # no request (and a plain cancellation carries no failure).
        if failure is not None and not isinstance(event.error, CircuitOpenError):
            counted: dict[str, Any] = {BUCKET: failure.bucket.value, KIND: failure.kind.value}
            if call is not None:
                counted[PROVIDER] = call.provider
            self.failures.add(1, counted)

    def stream_ended(self, event: StreamEnded) -> None:
        # A stream that broke after its first chunk failed as surely as a 503;
        # the caller's whole stream (attempt None) repeats a counted failure.
        failure = event.failure
        if event.attempt is None or failure is None or event.error is None:
            return
        counted: dict[str, Any] = {BUCKET: failure.bucket.value, KIND: failure.kind.value}
        if event.call is not None:
            counted[PROVIDER] = event.call.provider
        self.failures.add(1, counted)

    def stream_malformed(self, event: StreamMalformed) -> None:
        self.malformed.add(1, {PROVIDER: event.call.provider} if event.call is not None else {})

    def call_ended(self, event: CallEnded) -> None:
        call = event.call
        if call is None:
            return
        attrs: dict[str, Any] = {
            OPERATION: call.operation,
            PROVIDER: call.provider,
            REQUEST_MODEL: call.model,
        }
        kind = error_type(event.error, event.failure)
        if kind is not None:
            attrs[ERROR_TYPE] = kind
        self.operation_duration.record(max(event.duration, 0.0), attrs)
        usage = event.usage
        if usage and kind is None:
            for token_type, keys in (
                ("input", ("input_tokens", "prompt_tokens")),
                ("output", ("output_tokens", "completion_tokens")),
            ):
                for key in keys:
                    value = usage.get(key)
                    if isinstance(value, int) and not isinstance(value, bool):
                        self.token_usage.record(value, {**attrs, "gen_ai.token.type": token_type})
                        break

    def rate_limit_wait(self, event: RateLimitWait) -> None:
        attrs: dict[str, Any] = {"resilience.ratelimit.dimension": event.dimension}
        if event.call is not None:
            attrs[PROVIDER] = event.call.provider
        self.wait.record(max(event.wait, 0.0), attrs)

    def breaker_state_change(self, event: BreakerStateChange) -> None:
        self.breaker_changes.add(
            1, {"resilience.breaker.key": event.key, "resilience.breaker.state": event.new}
        )
