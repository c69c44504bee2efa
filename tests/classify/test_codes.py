"""Error identifiers: the table, the table without an Error/Exception suffix,
Google quota windows, and stems for identifiers no table lists."""

from __future__ import annotations

import pytest

from resilience._classify.codes import ident_kind, location_ident, weak_kind
from resilience._core.failure import Kind


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("rate_limit_exceeded", Kind.RATE_LIMIT),  # the table
        ("RateLimitExceeded", Kind.RATE_LIMIT),  # spelling does not matter
        ("billing_error_exception", Kind.BILLING),  # one Error/Exception suffix is dropped
        ("not_found_error", Kind.NOT_FOUND),
        ("throttlingexception", Kind.RATE_LIMIT),
        ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", Kind.QUOTA),
        ("GenerateContentInputTokensPerModelPerMinute-FreeTier", Kind.RATE_LIMIT),
        # stems: identifiers coined after the table was written
        ("engine_overloaded_error", Kind.OVERLOADED),
        ("server_is_overloaded", Kind.OVERLOADED),
        ("service_tier_capacity_exceeded", Kind.OVERLOADED),
        ("MODEL_CAPACITY_EXHAUSTED", Kind.OVERLOADED),
        ("ModelNotReadyException", Kind.OVERLOADED),  # loading, not missing
        ("model_not_ready", Kind.OVERLOADED),
        ("model_not_available", Kind.NOT_FOUND),
        ("model_not_supported", Kind.NOT_FOUND),
        ("dedicated_endpoint_not_running", Kind.NOT_FOUND),
        ("rate_limit_reached_error", Kind.RATE_LIMIT),
        ("rpm_rate_limit_exceeded", Kind.RATE_LIMIT),
        ("request_quota_exceeded", Kind.QUOTA),
        # not identifiers to read a stem from
        ("1305", None),
        ("client specified an invalid argument", None),
        ("gemini-3.1-pro-preview", None),
        ("overload me", None),  # a sentence put in "code" is wording, read elsewhere
    ],
)
def test_ident_kind(name: str, kind: Kind | None) -> None:
    assert ident_kind(name) is kind


def test_weak_identifiers_stay_weak() -> None:
    assert ident_kind("invalid_request_error") is None
    assert weak_kind("invalid_request_error") is Kind.BAD_REQUEST
    assert weak_kind("validationException") is Kind.BAD_REQUEST


def test_location_identifiers() -> None:
    assert location_ident("unsupported_country_region_territory")
    assert location_ident("RegionError")
    assert not location_ident("permission_denied")
