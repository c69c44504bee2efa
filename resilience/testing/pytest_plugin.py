"""pytest plugin (entry point ``pytest11``): fixtures for testing LLM apps.

Installed with ``llm-resilience``; pytest loads it automatically. The ``fake_provider``
fixture yields a started :class:`~resilience.testing.FakeProvider` with default settings
(no limits, no injected failures, instant answers)::

    async def test_my_app(fake_provider):
        client = openai.AsyncOpenAI(api_key="sk-test", base_url=fake_provider.base_url + "/v1")
        fake_provider.script(None, [503, 200])   # the next two answers
        ...
        assert fake_provider.count(503) == 1

For other settings, start your own: ``async with FakeProvider(rpm=60, ...) as fp``.
The fixture needs pytest-asyncio (``asyncio_mode = "auto"`` or ``@pytest.mark.asyncio``).
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator

from resilience.testing._fake_provider import FakeProvider

__all__ = ["fake_provider"]

# pytest loads this plugin wherever llm-resilience is installed; without pytest-asyncio
# there is no way to run an async fixture, so none is defined rather than breaking pytest.
if importlib.util.find_spec("pytest_asyncio") is not None:
    import pytest_asyncio

    @pytest_asyncio.fixture
    async def fake_provider() -> AsyncIterator[FakeProvider]:
        """A started fake OpenAI + Anthropic provider on 127.0.0.1 and a free port."""
        async with FakeProvider() as fp:
            yield fp
