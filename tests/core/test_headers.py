"""Rate-limit header parsing: OpenAI durations, Anthropic instants, retry-after forms."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict

from resilience._core.headers import (
    RateLimitInfo,
    parse_duration,
    parse_ratelimit_headers,
)

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("6m0s", 360.0),
        ("1s", 1.0),
        ("12ms", 0.012),
        ("1m9.696s", 69.696),
        ("0.5", 0.5),
        ("2h3m", 7380.0),
        ("20.5s", 20.5),
        ("37s", 37.0),
        ("2m59.56s", 179.56),
        ("250us", 0.00025),
        ("3", 3.0),
        (" 7.66s ", 7.66),
    ],
)
def test_parse_duration_reads_go_style_and_plain_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "abc", "1x", "-1", "s", "1s2", "nan", "1..2s", "m5"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    assert parse_duration(text) is None


def test_openai_headers_give_limits_remaining_and_duration_resets() -> None:
    info = parse_ratelimit_headers(
        {
            "x-ratelimit-limit-requests": "60",
            "x-ratelimit-limit-tokens": "150000",
            "x-ratelimit-remaining-requests": "59",
            "x-ratelimit-remaining-tokens": "149984",
            "x-ratelimit-reset-requests": "1s",
            "x-ratelimit-reset-tokens": "6m0s",
        }
    )
    assert info == RateLimitInfo(
        requests_limit=60,
        requests_remaining=59,
        requests_reset=1.0,
        tokens_limit=150000,
        tokens_remaining=149984,
        tokens_reset=360.0,
    )
    assert info.longest_reset == 360.0


def test_anthropic_resets_are_measured_from_the_response_date_not_the_local_clock() -> None:
    headers = {
        "Date": "Tue, 14 Nov 2023 22:13:20 GMT",  # == NOW
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        "anthropic-ratelimit-requests-reset": "2023-11-14T22:13:50Z",
        "anthropic-ratelimit-tokens-reset": "2023-11-14T22:14:20+00:00",
        "anthropic-ratelimit-input-tokens-limit": "40000",
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2023-11-14T22:13:25Z",
        "anthropic-ratelimit-output-tokens-limit": "8000",
        "anthropic-ratelimit-output-tokens-reset": "2023-11-14T22:13:21.5Z",
        "retry-after": "30",
    }
    # A local clock an hour off must not change anything: the date header is the base.
    info = parse_ratelimit_headers(headers, now=NOW + 3600)
    assert info is not None
    assert info.requests_limit == 50 and info.requests_remaining == 0
    assert info.requests_reset == pytest.approx(30.0)
    assert info.tokens_reset == pytest.approx(60.0)
    assert info.input_tokens_limit == 40000 and info.input_tokens_reset == pytest.approx(5.0)
    assert info.output_tokens_limit == 8000 and info.output_tokens_reset == pytest.approx(1.5)
    assert info.retry_after == 30.0


def test_anthropic_reset_without_date_header_uses_now() -> None:
    info = parse_ratelimit_headers(
        {"anthropic-ratelimit-requests-reset": "2023-11-14T22:13:30Z"}, now=NOW
    )
    assert info is not None and info.requests_reset == pytest.approx(10.0)


def test_reset_in_the_past_is_clamped_to_zero() -> None:
    info = parse_ratelimit_headers(
        {"anthropic-ratelimit-requests-reset": "2023-11-14T22:00:00Z"}, now=NOW
    )
    assert info is not None and info.requests_reset == 0.0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250", "retry-after": "9"}, 0.25),  # ms wins: more precise
        ({"x-ms-retry-after-ms": "2000"}, 2.0),
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after": "Tue, 14 Nov 2023 22:13:50 GMT"}, 30.0),
        (
            {
                "retry-after": "Tue, 14 Nov 2023 22:13:50 GMT",
                "date": "Tue, 14 Nov 2023 22:13:40 GMT",
            },
            10.0,
        ),
    ],
)
def test_retry_after_in_all_its_forms(headers: dict[str, str], expected: float) -> None:
    info = parse_ratelimit_headers(headers, now=NOW)
    assert info is not None and info.retry_after == pytest.approx(expected)


def test_gateway_triple_with_epoch_millisecond_reset_counts_requests() -> None:
    info = parse_ratelimit_headers(
        {
            "X-RateLimit-Limit": "20",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int((NOW + 42) * 1000)),
        },
        now=NOW,
    )
    assert info is not None
    assert (info.requests_limit, info.requests_remaining) == (20, 0)
    assert info.requests_reset == pytest.approx(42.0)


def test_header_containers_httpx_multidict_and_pairs_are_all_read_case_insensitively() -> None:
    raw = [("X-RateLimit-Remaining-Requests", "7"), ("Retry-After", "2")]
    for headers in (httpx.Headers(raw), CIMultiDict(raw), raw, dict(raw)):
        info = parse_ratelimit_headers(headers)
        assert info is not None, type(headers)
        assert info.requests_remaining == 7 and info.retry_after == 2.0


def test_no_rate_limit_headers_gives_none() -> None:
    assert parse_ratelimit_headers(None) is None
    assert parse_ratelimit_headers({}) is None
    assert parse_ratelimit_headers({"content-type": "application/json"}) is None
    assert parse_ratelimit_headers({"retry-after": "soon"}) is None


def test_garbage_values_spoil_only_their_own_field() -> None:
    info = parse_ratelimit_headers(
        {
            "x-ratelimit-limit-requests": "lots",
            "x-ratelimit-remaining-requests": "-4",
            "x-ratelimit-reset-requests": "whenever",
            "x-ratelimit-remaining-tokens": "12",
        }
    )
    assert info == RateLimitInfo(tokens_remaining=12)


class _Hostile:
    def items(self) -> list[tuple[str, str]]:
        raise RuntimeError("no")


@given(
    st.one_of(
        st.none(),
        st.dictionaries(st.text(max_size=40), st.text(max_size=40), max_size=8),
        st.lists(st.tuples(st.binary(max_size=20), st.binary(max_size=20)), max_size=5),
        st.text(max_size=200),
        st.integers(),
        st.just(_Hostile()),
        st.dictionaries(
            st.sampled_from(
                [
                    "retry-after",
                    "retry-after-ms",
                    "x-ratelimit-reset-tokens",
                    "anthropic-ratelimit-requests-reset",
                    "date",
                    "x-ratelimit-reset",
                ]
            ),
            st.text(max_size=30),
        ),
    ),
    st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
)
def test_never_raises_and_never_returns_negative_waits(headers: object, now: float | None) -> None:
    info = parse_ratelimit_headers(headers, now=now)  # type: ignore[arg-type]
    if info is not None:
        for value in (info.retry_after, info.requests_reset, info.tokens_reset):
            assert value is None or value >= 0
