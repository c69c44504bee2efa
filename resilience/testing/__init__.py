"""Test helpers for users of resilience: fake providers and a pytest plugin."""

from resilience._clock import FakeClock

__all__ = ["FakeClock"]
