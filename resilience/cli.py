"""The ``resilience`` command: ``explain``, ``fake-provider``, ``simulate``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

__all__ = ["main"]

# Each subcommand lives in its own module with add_arguments(parser) and run(args) -> int.
_COMMANDS = {
    "explain": ("resilience._cli.explain", "classify a status code or error response"),
    "fake-provider": ("resilience._cli.fake_provider", "serve a fake OpenAI/Anthropic provider"),
    "simulate": ("resilience._cli.simulate_cmd", "run failure-shaped traffic through a pipeline"),
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="resilience", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module, help_text) in _COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    args = parser.parse_args(argv)
    code: int = importlib.import_module(args._module).run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
