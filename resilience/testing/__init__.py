"""Test helpers for users of resilience: fake providers and a pytest plugin.

:class:`FakeProvider` is a local chaos server that speaks the OpenAI chat completions
and Anthropic messages wire formats, rate-limits like those providers and injects
their failures, so real SDKs can be tested against it by base URL alone.
"""

from resilience._core.clock import FakeClock
from resilience.testing._fake_provider import FakeProvider
from resilience.testing._faults import StreamFault
from resilience.testing._profiles import Outage, Profile
from resilience.testing._records import RequestRecord

__all__ = ["FakeClock", "FakeProvider", "Outage", "Profile", "RequestRecord", "StreamFault"]
