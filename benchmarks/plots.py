"""PNG plots of the benchmark results, into ``benchmarks/results/``.

- ``outage_throughput.png``: successful calls per second through the outage,
  per contender, and the requests the failing provider received;
- ``outage_latency.png``: p50 and p99 latency per second, per contender;
- ``overhead_peers.png``: added CPU time per call on the success path.

The outage window is shaded. Run ``python -m benchmarks.plots`` to redraw
from the JSON lines already in ``results/``.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks._common import RESULTS

__all__ = ["make_plots"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def _caption(record: Mapping[str, Any]) -> str:
    where = record.get("machine", {})
    cpu, cores, python = where.get("cpu", "?"), where.get("cores", "?"), where.get("python", "?")
    return f"{cpu}, {cores} cores, Python {python}"


def _outage(record: Mapping[str, Any], out: Path) -> list[Path]:
    series = record.get("series") or []
    if not series:
        return []
    plt = _pyplot()
    plan = record.get("plan", {})
    start, end = plan.get("outage_s", (None, None))
    by: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for point in series:
        by[point["contender"]].append(point)
    times = sorted({p["t"] for p in series})
    step = (times[1] - times[0]) if len(times) > 1 else 1.0
    paths = []

    fig, (ax, ax_a) = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    # Lines that coincide stay visible: the first drawn is the widest.
    widths = [3.5, 2.2, 1.2, 1.0, 1.0]
    for i, (name, points) in enumerate(by.items()):
        points.sort(key=lambda p: p["t"])
        t = [p["t"] for p in points]
        ok = [(p["calls"] - p["failed"]) / step for p in points]
        style = {"drawstyle": "steps-post", "linewidth": widths[min(i, 4)], "alpha": 0.85}
        ax.plot(t, ok, label=name, **style)
        ax_a.plot(t, [p.get("A_reqs", 0) / step for p in points], label=name, **style)
    for a in (ax, ax_a):
        if start is not None:
            a.axvspan(start, end, color="red", alpha=0.1, label="_outage")
        a.grid(alpha=0.3)
    ax.set_ylabel("successful calls/s (by start time)")
    ax.set_title("Through a provider outage: throughput")
    ax.legend(loc="lower left", fontsize=8)
    ax_a.set_ylabel("requests/s to the failing provider")
    ax_a.set_xlabel(f"seconds (outage shaded)  -  {_caption(record)}")
    fig.tight_layout()
    path = out / "outage_throughput.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)

    fig, ax = plt.subplots(figsize=(9, 4.5))
    for name, points in by.items():
        p50 = [p for p in points if p.get("p50_ms") is not None]
        (line,) = ax.plot([p["t"] for p in p50], [p["p50_ms"] for p in p50], label=f"{name} p50")
        ax.plot(
            [p["t"] for p in points if p.get("p99_ms") is not None],
            [p["p99_ms"] for p in points if p.get("p99_ms") is not None],
            linestyle="--",
            color=line.get_color(),
            label=f"{name} p99",
        )
    if start is not None:
        ax.axvspan(start, end, color="red", alpha=0.1)
    ax.set_yscale("log")
    ax.set_ylabel("latency of successful calls (ms, log)")
    ax.set_xlabel(f"seconds (outage shaded)  -  {_caption(record)}")
    ax.set_title("Through a provider outage: latency")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path = out / "outage_latency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    paths.append(path)
    return paths


def _overhead_peers(record: Mapping[str, Any], out: Path) -> list[Path]:
    rows = [
        r
        for r in record.get("rows", [])
        if r["contender"] != "bare" and not r["contender"].startswith("layer:")
    ]
    if not rows:
        return []
    plt = _pyplot()
    rows.sort(key=lambda r: r["added_us"])
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.5))
    names = [r["contender"] for r in rows]
    values = [max(r["added_us"], 0.01) for r in rows]
    colors = ["tab:blue" if n.startswith("resilience") else "tab:gray" for n in names]
    bars = ax.barh(names, values, color=colors)
    for bar, value in zip(bars, values, strict=True):
        ax.text(value * 1.1, bar.get_y() + bar.get_height() / 2, f"{value:,.1f} us", va="center")
    ax.set_xscale("log")
    ax.set_xlabel(f"added CPU time per call, success path (us, log)  -  {_caption(record)}")
    ax.set_title("What the layer costs per call")
    fig.tight_layout()
    path = out / "overhead_peers.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def make_plots(records: Mapping[str, Mapping[str, Any]], out: Path = RESULTS) -> list[Path]:
    """Draw every plot whose data is in ``records`` (benchmark name -> record)."""
    out.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    if "outage" in records and "error" not in records["outage"]:
        paths += _outage(records["outage"], out)
    if "overhead_peers" in records and "error" not in records["overhead_peers"]:
        paths += _overhead_peers(records["overhead_peers"], out)
    return paths


def main() -> None:
    records = {}
    for name in ("outage", "overhead_peers"):
        path = RESULTS / f"{name}.json"
        if path.exists():
            records[name] = json.loads(path.read_text())
    for path in make_plots(records):
        print(path, file=sys.stderr)


if __name__ == "__main__":
    main()
