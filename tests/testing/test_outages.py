"""Outage windows on the server's clock, driven by a FakeClock, and set_outage."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest

from resilience.testing import FakeClock, FakeProvider, Outage
from tests.testing.conftest import USER, openai_client


async def _post(http: aiohttp.ClientSession, fp: FakeProvider, model: str) -> int:
    async with http.post(
        fp.base_url + "/v1/chat/completions", json={"model": model, "messages": USER}
    ) as resp:
        await resp.read()
        return resp.status


async def test_outage_window_answers_503_only_inside_it_and_only_for_its_models() -> None:
    clock = FakeClock()
    outage = Outage(start=5.0, end=15.0, status=503, models=frozenset({"gpt-4o"}))
    async with FakeProvider(outages=[outage], clock=clock) as fp, aiohttp.ClientSession() as http:
        before = await _post(http, fp, "gpt-4o")
        await clock.advance(5.0)
        during = await _post(http, fp, "gpt-4o")
        other = await _post(http, fp, "gpt-4o-mini")
        await clock.advance(10.0)
        after = await _post(http, fp, "gpt-4o")
    assert (before, during, other, after) == (200, 503, 200, 200)
    assert [r.time for r in fp.requests] == [0.0, 5.0, 5.0, 15.0]
    assert [r.reason for r in fp.requests] == ["ok", "outage", "ok", "ok"]


async def test_reset_outage_drops_connections_for_the_sdk() -> None:
    clock = FakeClock()
    async with FakeProvider(outages=[Outage(0, 1, "reset")], clock=clock) as fp:
        with pytest.raises(openai.APIConnectionError):
            await openai_client(fp).chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
        await clock.advance(1.0)
        ok = await openai_client(fp).chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert ok.choices and fp.count("reset") == 1


async def test_set_outage_starts_and_stops_now() -> None:
    async with FakeProvider() as fp, aiohttp.ClientSession() as http:
        fp.set_outage(503, models=["a"])
        statuses = [await _post(http, fp, "a"), await _post(http, fp, "b")]
        fp.set_outage(None)
        statuses.append(await _post(http, fp, "a"))
    assert statuses == [503, 200, 200]
    assert fp.count(503, model="a") == 1 and fp.count(model="a") == 2


async def test_outage_body_and_retry_after_follow_the_route() -> None:
    async with FakeProvider() as fp, aiohttp.ClientSession() as http:
        fp.set_outage(503)
        async with http.post(
            fp.base_url + "/v1/chat/completions", json={"model": "m", "messages": USER}
        ) as r1:
            openai_body = await r1.json()
        async with http.post(
            fp.base_url + "/v1/messages", json={"model": "m", "max_tokens": 5, "messages": USER}
        ) as r2:
            anthropic_body = await r2.json()
    assert r1.headers["retry-after"] == "1" and "x-request-id" in r1.headers
    assert openai_body["error"]["type"] == "server_error"
    assert anthropic_body["type"] == "error" and "request-id" in r2.headers


async def _until_waiting(clock: FakeClock, n: int = 1) -> None:
    """Let the real socket round-trip happen until the server sleeps on the fake clock."""
    for _ in range(2000):
        if clock.pending() >= n:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the server never waited on the clock")


async def test_latency_and_generation_time_follow_the_fake_clock() -> None:
    clock = FakeClock()
    async with (
        FakeProvider(latency=2.0, ttft=1.0, tokens_per_second=10, clock=clock) as fp,
        aiohttp.ClientSession() as http,
    ):
        task = asyncio.create_task(_post(http, fp, "m"))
        await _until_waiting(clock)
        await clock.advance(2.0)  # latency over; now ttft + 12 tokens at 10/s = 2.2 s
        await clock.advance(2.1)
        assert not task.done()
        await clock.advance(0.15)
        assert await asyncio.wait_for(task, 5) == 200
    assert fp.requests[0].output_tokens == 12


async def test_stream_sends_role_first_then_paces_content_by_ttft_and_rate() -> None:
    clock = FakeClock()
    async with (
        FakeProvider(ttft=1.0, tokens_per_second=4, clock=clock) as fp,
        aiohttp.ClientSession() as http,
    ):
        body = {"model": "m", "messages": USER, "stream": True, "max_tokens": 4}
        resp = await http.post(fp.base_url + "/v1/chat/completions", json=body)
        first = await resp.content.readuntil(b"\n\n")
        assert b'"role":"assistant"' in first
        reader = asyncio.create_task(resp.read())
        await _until_waiting(clock)
        await clock.advance(1.5)  # ttft and two tokens
        assert not reader.done()
        for _ in range(10):
            await clock.advance(0.25)
        rest = await asyncio.wait_for(reader, 5)
    assert rest.count(b'"content":') == 4 and rest.endswith(b"data: [DONE]\n\n")
