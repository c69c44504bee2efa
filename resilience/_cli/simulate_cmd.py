"""``resilience simulate``: failure-shaped agent traffic, without and with a pipeline.

Starts three fake providers in this process (OpenAI and Anthropic wire
formats, each with its own limits, the April 2026 failure mix and an outage
on one), runs the same agent workload through the real SDKs twice (the SDKs'
own retries, then a full Pipeline) and prints both sides next to each other.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from resilience._core.errors import ConfigError

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--duration",
        type=float,
        default=20.0,
        help="seconds each side runs (default 20: both sides in under a minute)",
    )
    p.add_argument("--concurrency", type=int, default=16, help="concurrent agents (default 16)")
    p.add_argument("--seed", type=int, default=7, help="seed of the workload and failures")
    p.add_argument(
        "--failure-rate",
        type=float,
        default=0.04,
        help="share of requests the providers fail with the April 2026 mix (default 0.04)",
    )
    p.add_argument(
        "--otlp",
        metavar="URL",
        help="export the pipeline's traces over OTLP/HTTP (Jaeger: http://localhost:4318)",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object (last line of stdout) instead of the tables",
    )


def _missing(exc: ImportError) -> int:
    print(
        f"resilience simulate needs the openai, anthropic and rich packages ({exc.name} is "
        "missing): pip install 'llm-resilience[openai,anthropic,cli]'",
        file=sys.stderr,
    )
    return 2


def run(args: argparse.Namespace) -> int:
    try:
        import anthropic  # noqa: F401
        import openai  # noqa: F401
        import rich  # noqa: F401
    except ImportError as exc:
        return _missing(exc)
    from resilience._cli.simulate import SimulationConfig

    try:
        config = SimulationConfig(
            duration=args.duration,
            concurrency=args.concurrency,
            seed=args.seed,
            failure_rate=args.failure_rate,
            otlp=args.otlp,
        )
    except ConfigError as exc:
        print(f"resilience simulate: {exc}", file=sys.stderr)
        return 2
    try:
        result = asyncio.run(_main(config, as_json=args.json))
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(result, sort_keys=True))
    return 0


async def _main(config: Any, *, as_json: bool) -> dict[str, Any]:
    from rich.console import Console
    from rich.live import Live

    from resilience._cli.simulate import simulate
    from resilience._cli.simulate_view import live_panel, result_tables

    err = Console(stderr=True)
    out = Console()
    if not out.is_terminal:
        out = Console(width=120)  # a pipe or a file: room for both tables
    snapshots: dict[str, dict[str, Any]] = {}
    if err.is_terminal:
        with Live(live_panel(config, snapshots), console=err, refresh_per_second=4) as live:

            def progress(snap: dict[str, Any]) -> None:
                snapshots[snap["side"]] = snap
                live.update(live_panel(config, snapshots))

            result = await simulate(config, progress)
    else:
        # Not a terminal (a pipe, CI): one line per side instead of a live panel.
        def progress(snap: dict[str, Any]) -> None:
            if snap["side"] not in snapshots:
                err.print(f"running {snap['side']} for {config.duration:g}s ...")
            snapshots[snap["side"]] = snap

        result = await simulate(config, progress)
    if not as_json:
        for renderable in result_tables(result):
            out.print(renderable)
    return result
