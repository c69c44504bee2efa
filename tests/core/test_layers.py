"""The layers talk through the core: each private subpackage imports only
the core's modules, the store interfaces where it keeps shared state, and
its own modules; only the core's pipeline composes the classifier and the
stream layer, and only the CLI composes everything."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "resilience"

ALLOWED = {
    "_core": {"_classify", "_stream"},  # the pipeline composes them
    "_classify": set(),
    "_stream": set(),
    "_otel": set(),
    "_retry": set(),
    "_fallback": set(),
    "_breaker": {"_store"},
    "_limiter": {"_store"},
    "_store": set(),
    "_redis": {"_store"},
}


def imported_layers(package: str) -> set[str]:
    found: set[str] = set()
    for path in (ROOT / package).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "resilience" and len(parts) > 1 and parts[1].startswith("_"):
                    found.add(parts[1])
    return found - {package, "_core"}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_layer_imports_only_the_core_and_what_it_is_allowed(package: str) -> None:
    assert imported_layers(package) <= ALLOWED[package]


def test_every_private_subpackage_is_listed() -> None:
    on_disk = {p.name for p in ROOT.iterdir() if p.is_dir() and p.name.startswith("_")}
    assert on_disk - {"__pycache__", "_cli"} == set(ALLOWED)
