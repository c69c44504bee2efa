"""Shared fixtures: a fake clock so no test sleeps."""

from __future__ import annotations

import pytest

from resilience import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
