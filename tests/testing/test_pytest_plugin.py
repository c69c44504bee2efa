"""The ``fake_provider`` fixture comes from the installed pytest11 plugin."""

from __future__ import annotations

import openai
import pytest

from resilience.testing import FakeProvider
from tests.testing.conftest import USER, openai_client


async def test_fixture_yields_a_started_provider_with_defaults(fake_provider: FakeProvider) -> None:
    assert fake_provider.base_url.startswith("http://127.0.0.1:")
    fake_provider.script(None, [503])
    client = openai_client(fake_provider)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    ok = await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
    assert ok.choices and fake_provider.count(503) == 1 and fake_provider.count() == 2
