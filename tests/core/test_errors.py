"""The error hierarchy: every error is a ResilienceError and keeps its call and failure."""

from __future__ import annotations

import pytest

from resilience import (
    Call,
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    Failure,
    FallbackExhausted,
    Kind,
    ProviderError,
    ResilienceError,
)

CALL = Call("openai", "gpt-4o")


def test_hierarchy_matches_the_docstring() -> None:
    assert issubclass(ProviderError, ResilienceError)
    assert issubclass(DeadlineExceeded, ProviderError)
    assert issubclass(CircuitOpenError, ResilienceError)
    assert issubclass(FallbackExhausted, ResilienceError)
    assert issubclass(ConfigError, ResilienceError)
    assert issubclass(ConfigError, ValueError)


def test_provider_error_carries_call_and_failure() -> None:
    f = Failure.of(Kind.RATE_LIMIT, status=429, retry_after=2.0, message="slow down")
    err = ProviderError(f, call=CALL)
    assert err.failure is f
    assert err.call is CALL
    assert "rate_limit" in str(err) and "429" in str(err) and "openai/gpt-4o" in str(err)


def test_fallback_exhausted_keeps_every_target_and_the_last_failure() -> None:
    e1 = ProviderError(Failure.of(Kind.OVERLOADED, status=503), call=CALL)
    e2 = CircuitOpenError("anthropic/claude", retry_after=3.0)
    e3 = ProviderError(Failure.of(Kind.SERVER, status=500), call=CALL)
    ex = FallbackExhausted([("openai/gpt-4o", e1), ("anthropic/claude", e2), ("groq/llama", e3)])
    assert [t for t, _ in ex.errors] == ["openai/gpt-4o", "anthropic/claude", "groq/llama"]
    assert ex.failure is e3.failure
    assert "3 targets" in str(ex)
    assert "CircuitOpenError" in str(ex)


def test_failure_rejects_a_bucket_that_does_not_match_its_kind() -> None:
    with pytest.raises(ValueError, match="bucket"):
        Failure(kind=Kind.RATE_LIMIT, bucket="server_error")  # type: ignore[arg-type]


def test_kinds_compare_to_plain_strings() -> None:
    f = Failure.of("rate_limit")
    assert f.kind == "rate_limit"
    assert f.bucket == "auth_quota"
    assert f.retryable and f.failover and not f.trips_breaker
