"""Failure profiles: the seeded sampler reproduces the April 2026 mix; config is checked."""

from __future__ import annotations

import math
import random
from collections import Counter

import aiohttp
import pytest

from resilience._core.errors import ConfigError
from resilience.testing import FakeProvider, Outage, Profile

EXPECTED = {
    429: 65.83, 400: 19.40, 403: 9.41, 503: 2.19, 502: 1.81, 529: 0.52, 422: 0.24,
    500: 0.21, 404: 0.21, 402: 0.07, 504: 0.06, 401: 0.02, 520: 0.02, 499: 0.01,
}  # fmt: skip


def test_requesty_profile_shares_match_the_seed() -> None:
    shares = Profile.named("requesty-2026-04").probabilities()
    total = sum(EXPECTED.values())
    for status, pct in EXPECTED.items():
        assert shares[status] == pytest.approx(pct / total, abs=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_10000_draws_match_the_mix_within_4_sigma(seed: int) -> None:
    profile = Profile.named("requesty-2026-04")
    rng = random.Random(seed)
    n = 10_000
    counts = Counter(profile.sample(rng) for _ in range(n))
    assert set(counts) <= set(EXPECTED)
    for status, p in profile.probabilities().items():
        sigma = math.sqrt(p * (1 - p) / n)
        assert abs(counts[status] / n - p) <= 4 * sigma + 1e-3, status


def test_same_seed_same_sequence() -> None:
    profile = Profile(mix={429: 1, 503: 1, "reset": 1})
    a = [profile.sample(random.Random(7)) for _ in range(1)]
    r1, r2 = random.Random(7), random.Random(7)
    assert [profile.sample(r1) for _ in range(50)] == [profile.sample(r2) for _ in range(50)]
    assert a[0] in (429, 503, "reset")


@pytest.mark.parametrize(
    ("mix", "field"),
    [({}, "profile.mix"), ({429: -1}, "profile.mix[429]"), ({999: 1}, "profile.mix"),
     ({"boom": 1}, "profile.mix"), ({429: 0}, "profile.mix")],
)  # fmt: skip
def test_bad_mix_is_a_config_error_naming_the_field(mix: dict[object, float], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        Profile(mix=mix)  # type: ignore[arg-type]
    assert info.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rpm": 0}, "rpm"),
        ({"tpm": -5}, "tpm"),
        ({"failure_rate": 1.5}, "failure_rate"),
        ({"profile": "nope"}, "profile"),
        ({"latency": -1}, "latency"),
        ({"tokens_per_second": 0}, "tokens_per_second"),
        ({"unsupported": {"m": {"vision"}}}, "unsupported['m']"),
        ({"context_window": {"m": 0}}, "context_window['m']"),
        ({"outages": [(1, 2)]}, "outages"),
        ({"port": 70000}, "port"),
    ],
)
def test_bad_fake_provider_settings_raise_config_error(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(ConfigError) as info:
        FakeProvider(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_outage_window_is_validated() -> None:
    with pytest.raises(ConfigError):
        Outage(start=5, end=5)
    with pytest.raises(ConfigError):
        Outage(start=0, end=1, status="explode")
    assert Outage(0, 1, models="m").models == frozenset({"m"})


async def test_http_sample_injects_the_failure_rate_and_profile_statuses() -> None:
    n = 400
    async with (
        FakeProvider(failure_rate=0.25, seed=3) as fp,
        aiohttp.ClientSession() as http,
    ):
        for _ in range(n):
            async with http.post(
                fp.base_url + "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
            ) as resp:
                await resp.read()
    failed = n - fp.count(200)
    sigma = math.sqrt(0.25 * 0.75 * n)
    assert abs(failed - 0.25 * n) <= 4 * sigma
    assert fp.count(429) > fp.count(400) > 0  # the mix's order shows even in a small sample
    assert {r.reason for r in fp.requests} == {"ok", "injected"}
    assert set(fp.stats()) <= {200, *EXPECTED}


async def test_custom_profile_at_rate_one_always_answers_its_status() -> None:
    async with (
        FakeProvider(profile=Profile(mix={502: 1}), failure_rate=1.0) as fp,
        aiohttp.ClientSession() as http,
        http.post(
            fp.base_url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        ) as resp,
    ):
        page = await resp.text()
    assert resp.status == 502 and resp.headers["content-type"].startswith("text/html")
    assert "Bad Gateway" in page and "502" in page


async def test_injected_429_agrees_with_configured_limits() -> None:
    async with (
        FakeProvider(rpm=600, profile=Profile(mix={429: 1}), failure_rate=1.0) as fp,
        aiohttp.ClientSession() as http,
        http.post(
            fp.base_url + "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        ) as resp,
    ):
        body = await resp.json()
    assert resp.status == 429 and resp.headers["x-ratelimit-limit-requests"] == "600"
    assert resp.headers["x-ratelimit-remaining-requests"] == "0"
    assert "Limit 600" in body["error"]["message"] and resp.headers["retry-after"] == "1"
    assert fp.requests[0].reason == "injected"


async def _statuses(seed: int, n: int) -> list[int | str]:
    async with FakeProvider(failure_rate=0.5, seed=seed) as fp, aiohttp.ClientSession() as http:
        for _ in range(n):
            async with http.post(
                fp.base_url + "/v1/messages",
                json={
                    "model": "m",
                    "max_tokens": 5,
                    "messages": [{"role": "user", "content": "x"}],
                },
            ) as resp:
                await resp.read()
        return [r.outcome for r in fp.requests]


async def test_same_seed_reproduces_the_run_and_another_seed_differs() -> None:
    a, b, c = await _statuses(11, 40), await _statuses(11, 40), await _statuses(12, 40)
    assert a == b and a != c
