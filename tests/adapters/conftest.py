"""Fixtures for the adapter tests: fake providers on a fake clock, an
OpenTelemetry SDK recording in memory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

# LiteLLM fetches its model cost map from the network on import unless told not to.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from resilience import FakeClock
from resilience.testing._fake_provider import FakeProvider
from tests.adapters._support import Otel, make_otel


@pytest.fixture
async def fp(clock: FakeClock) -> AsyncIterator[FakeProvider]:
    """The primary provider. ``gpt-4o`` and ``claude-sonnet-4-5`` cannot take tools."""
    async with FakeProvider(
        clock=clock, unsupported={"gpt-4o": {"tools"}, "claude-sonnet-4-5": {"tools"}}
    ) as provider:
        yield provider


@pytest.fixture
async def fp2(clock: FakeClock) -> AsyncIterator[FakeProvider]:
    """A second, healthy provider to fall back to."""
    async with FakeProvider(clock=clock) as provider:
        yield provider


@pytest.fixture
def otel() -> Otel:
    return make_otel()
