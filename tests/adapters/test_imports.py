"""Hosts are imported lazily, and a missing host names the extra to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

HOSTS = {
    "openai": ("openai", "openai"),
    "anthropic": ("anthropic", "anthropic"),
    "litellm": ("litellm", "litellm"),
    "langchain": ("langchain_core", "langchain"),
}


def run(code: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        cwd=cwd,
    )
    return done.stdout.strip()


def test_importing_resilience_imports_no_host() -> None:
    out = run(
        """
        import sys
        import resilience, resilience.adapters
        hosts = ("openai", "anthropic", "litellm", "langchain_core", "langchain_openai")
        print(",".join(h for h in hosts if h in sys.modules) or "none")
        """
    )
    assert out == "none"


def test_a_missing_host_gives_an_import_error_naming_the_extra() -> None:
    out = run(
        f"""
        import importlib, sys
        for name, (host, extra) in {HOSTS!r}.items():
            saved = sys.modules.get(host)
            sys.modules[host] = None  # as if not installed
            try:
                importlib.import_module("resilience.adapters." + name)
            except ImportError as exc:
                ok = f"pip install 'llm-resilience[{{extra}}]'" in str(exc)
                print(name, "ok" if ok else "bad: " + str(exc))
            else:
                print(name, "imported")
            finally:
                sys.modules.pop("resilience.adapters." + name, None)
                if saved is not None:
                    sys.modules[host] = saved
                else:
                    sys.modules.pop(host, None)
        """
    )
    assert out.splitlines() == [f"{name} ok" for name in HOSTS]


def test_every_adapter_imports_from_the_installed_package_alone(tmp_path: Path) -> None:
    """Run away from the checkout, so a stray ``import adapters...`` (which
    only the repository root makes importable) fails here as it would for a
    user."""
    out = run(
        """
        import importlib, pkgutil, sys
        import resilience.adapters as pkg
        assert "adapters" not in sys.modules
        names = sorted(m.name for m in pkgutil.iter_modules(pkg.__path__))
        for name in names:
            importlib.import_module("resilience.adapters." + name)
        print(len(names), "adapters" in sys.modules)
        """,
        cwd=tmp_path,
    )
    count, stray = out.split()
    assert int(count) >= 8 and stray == "False"


def test_adapters_import_only_the_public_names_of_resilience() -> None:
    """The bundled adapters are written as a third party would write one:
    from :mod:`resilience` and its public submodules, never a private one."""
    import ast

    root = Path(__file__).resolve().parents[2] / "adapters"
    private: list[str] = []
    for path in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            private += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith("resilience.") and any(p.startswith("_") for p in n.split("."))
            ]
    assert private == []
