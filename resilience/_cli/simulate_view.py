"""How ``resilience simulate`` looks: the live panel and the final tables (rich)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from resilience._cli.simulate_report import bucket_rows, comparison_rows

__all__ = ["live_panel", "result_tables"]

_SIDES = ("baseline", "pipeline")
_TITLES = {
    "baseline": "baseline (SDK retries)",
    "pipeline": "pipeline (full)",
}
_STATE_STYLE = {"closed": "green", "open": "bold red", "half-open": "yellow"}


def _side_block(config: Any, snap: Mapping[str, Any] | None, name: str) -> RenderableType:
    if snap is None:
        return Text(f"{_TITLES[name]}: waiting", style="dim")
    elapsed = min(snap["elapsed"], snap["duration"])
    head = Table.grid(padding=(0, 1))
    head.add_row(
        Text(_TITLES[name], style="bold"),
        ProgressBar(total=snap["duration"], completed=elapsed, width=30),
        Text(f"{elapsed:4.1f}/{snap['duration']:g}s"),
        Text("outage on" if snap["outage"] else "", style="bold red"),
    )
    stats = Table.grid(padding=(0, 3))
    ok = snap["succeeded"]
    calls = snap["calls"]
    rate = f" ({ok / calls * 100:.0f}%)" if calls else ""
    stats.add_row(
        f"calls {calls:,}",
        Text(f"ok {ok:,}{rate}", style="green"),
        Text(f"failed {snap['failed']:,}", style="red" if snap["failed"] else ""),
        f"in flight {snap['in_flight']}",
    )
    stats.add_row(
        f"requests {snap['requests']:,}",
        Text(f"429s {snap['provider_429s']:,}", style="yellow" if snap["provider_429s"] else ""),
        f"retries {snap['retries']:,}",
        f"fallbacks {snap['fallbacks']:,}",
    )
    parts: list[RenderableType] = [head, stats]
    if snap["breakers"]:
        line = Text("breakers: ")
        for key, state in snap["breakers"].items():
            line.append(f"{key} ", style="bold")
            line.append(f"{state}  ", style=_STATE_STYLE.get(state, ""))
        parts.append(line)
    return Group(*parts)


def live_panel(config: Any, snapshots: Mapping[str, Mapping[str, Any]]) -> RenderableType:
    """Both sides, the one running updated a few times a second."""
    blocks: list[RenderableType] = []
    for name in _SIDES:
        blocks.append(_side_block(config, snapshots.get(name), name))
    return Panel(
        Group(*blocks),
        title="resilience simulate",
        subtitle=f"{config.concurrency} agents, seed {config.seed}; pipeline = Fallback, Retry, "
        "CircuitBreaker, RateLimiter",
    )


def result_tables(result: Mapping[str, Any]) -> list[RenderableType]:
    """The side-by-side comparison and the failures-by-bucket table."""
    cfg = result["config"]
    providers = ", ".join(
        f"{p['name']} ({p['rpm']} rpm"
        + (
            f", {p['outage']['status']} from {p['outage']['start_s']:g}s "
            f"to {p['outage']['end_s']:g}s)"
            if p["outage"]
            else ")"
        )
        for p in cfg["providers"]
    )
    main = Table(
        title=f"{cfg['duration']:g}s per side, {cfg['concurrency']} agents, seed {cfg['seed']}",
        caption=f"providers: {providers}; {cfg['failure_rate'] * 100:g}% of requests fail "
        "with the April 2026 mix",
    )
    main.add_column("", no_wrap=True)
    main.add_column("baseline (SDK retries)", justify="right")
    main.add_column("pipeline", justify="right", style="bold")
    for metric, base, pipe in comparison_rows(result):
        main.add_row(metric, base, pipe)
    buckets = Table(
        title="provider errors by bucket: what absorbed them, and calls that failed",
        caption="retry: sent again to the same target; fallback: moved to another "
        "target; degrade: sent without a feature; surfaced: the application got it",
    )
    buckets.add_column("bucket", no_wrap=True)
    buckets.add_column("baseline\nerrors", justify="right")
    buckets.add_column("baseline\nhandling", no_wrap=True)
    buckets.add_column("baseline\nfailed", justify="right")
    buckets.add_column("pipeline\nerrors", justify="right")
    buckets.add_column("pipeline\nhandling", no_wrap=True)
    buckets.add_column("pipeline\nfailed", justify="right", style="bold")
    for row in bucket_rows(result):
        buckets.add_row(*row)
    return [main, buckets]
