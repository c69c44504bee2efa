"""``resilience fake-provider``: serves both wire formats and prints counts per second."""

from __future__ import annotations

import argparse
import asyncio
import re

import aiohttp
import pytest

from resilience import cli
from resilience._cli.fake_provider import _line, _serve, add_arguments


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_arguments_match_the_documented_command() -> None:
    a = _args(
        "--port", "8080", "--style", "anthropic", "--rpm", "600", "--tpm", "100000",
        "--profile", "requesty-2026-04", "--failure-rate", "0.05", "--seed", "1",
    )  # fmt: skip
    assert (a.port, a.style, a.rpm, a.tpm, a.failure_rate, a.seed) == (
        8080, "anthropic", 600, 100000, 0.05, 1,
    )  # fmt: skip


def test_status_line_shows_what_was_answered_in_the_last_second() -> None:
    line = _line(3, {200: 15, 429: 4, "reset": 1}, {200: 10, 429: 4})
    assert line == "[    3s]      6 answered  200:5 reset:1"


def test_bad_profile_exits_2_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["fake-provider", "--port", "0", "--profile", "nope", "--duration", "0"])
    assert code == 2 and "profile='nope'" in capsys.readouterr().err


async def test_serves_requests_and_reports_them(capsys: pytest.CaptureFixture[str]) -> None:
    task = asyncio.create_task(_serve(_args("--port", "0", "--duration", "1", "--rpm", "600")))
    url = None
    for _ in range(500):
        m = re.search(r"fake provider on (http://\S+)", capsys.readouterr().out)
        if m:
            url = m.group(1)
            break
        await asyncio.sleep(0.002)
    assert url is not None
    async with aiohttp.ClientSession() as http:
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with http.post(url + "/v1/chat/completions", json=body) as resp:
            assert resp.status == 200 and resp.headers["x-ratelimit-limit-requests"] == "600"
    assert await asyncio.wait_for(task, 10) == 0
    assert "1 answered  200:1" in capsys.readouterr().out
