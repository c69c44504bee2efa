"""The README's quick start runs, and absorbs a 429 and a 503 on the way."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EXAMPLE = Path(__file__).parents[2] / "examples" / "quickstart.py"


async def test_quickstart_answers_after_a_429_and_a_503() -> None:
    spec = importlib.util.spec_from_file_location("quickstart_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    answer = await module.main()
    assert isinstance(answer, str) and answer
