"""Run the benchmarks: one combined table, a JSON line per benchmark, plots.

    python -m benchmarks                   # everything, full mode (minutes)
    python -m benchmarks --quick           # everything, a few seconds each (results/quick/)
    python -m benchmarks --only outage,overhead

Each benchmark module has ``async def measure(quick=False) -> dict`` (rows
plus extras). The runner runs them one after another in this process, each
on a fresh event loop, writes ``results/<name>.json`` (one JSON line, the
machine included), prints that line, then the combined table, and draws the
plots (``benchmarks/plots.py``). A benchmark whose module is missing or
fails is reported and skipped; the others still run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import io
import json
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks import _common
from benchmarks._common import RESULTS, machine, table

# name -> modules it runs (``overhead`` covers telemetry and the peers).
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "goodput": ("goodput",),
    "outage": ("outage",),
    "overhead": ("overhead", "overhead_peers"),
    "scale": ("scale",),
    "distributed": ("distributed",),
    "classify": ("classify",),
    "streams": ("streams",),
}

# Per benchmark: the row fields naming what was measured, and the figures the
# combined table shows (the JSON lines keep everything).
SUBJECT_KEYS = ("scenario", "contender", "metric", "classifier", "case", "name")
HEADLINES: dict[str, tuple[str, ...]] = {
    "goodput": ("seconds", "pct_of_limit", "requests_sent", "429s", "failed"),
    "outage": ("failed", "A_reqs_in_outage", "p50_during_ms", "p99_during_ms", "back_on_A_s"),
    "overhead": ("us_per_call", "overhead_us"),
    "overhead_peers": ("cpu_us_per_call", "added_us", "x_resilience"),
    "scale": ("value", "unit"),
    "distributed": ("rate_rps", "vs_limit_pct", "429s", "calls_failed"),
    "classify": ("kind_ok", "retryable_ok", "us_per_call"),
    "streams": ("complete", "truncated_success", "duplicated", "clean_error", "raw_error"),
}


def _fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and abs(value) < 10:
            return f"{value:.2f}"
        return f"{value:,.1f}"
    return str(value)


def _subject(row: Mapping[str, Any]) -> str:
    parts = [str(row[k]) for k in SUBJECT_KEYS if k in row and k != "metric"]
    if "metric" in row:
        parts.append(str(row["metric"]))
    return ", ".join(parts) or "-"


def _figures(name: str, row: Mapping[str, Any]) -> str:
    keys = HEADLINES.get(name)
    if keys is None:  # an unknown benchmark: its first few scalar figures
        keys = tuple(
            k
            for k, v in row.items()
            if k not in SUBJECT_KEYS
            and isinstance(v, int | float | str)
            and not isinstance(v, bool)
        )[:5]
    if name == "scale":
        return f"{_fmt(row.get('value'))} {row.get('unit', '')}".strip()
    return ", ".join(f"{k} {_fmt(row[k])}" for k in keys if k in row)


def combined_rows(records: Mapping[str, Mapping[str, Any]]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for name, record in records.items():
        if "error" in record:
            rows.append({"benchmark": name, "subject": "-", "figures": record["error"]})
            continue
        for row in record.get("rows", []):
            rows.append(
                {"benchmark": name, "subject": _subject(row), "figures": _figures(name, row)}
            )
    return rows


def _markdown(rows: Sequence[Mapping[str, str]], where: Mapping[str, Any], quick: bool) -> str:
    lines = [
        f"Measured on {where['cpu']} ({where['cores']} cores), Python {where['python']}, "
        f"{where['platform']}{', quick mode' if quick else ''}, "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}.",
        "",
        "| benchmark | what | figures |",
        "| --- | --- | --- |",
    ]
    lines += [f"| {r['benchmark']} | {r['subject']} | {r['figures']} |" for r in rows]
    return "\n".join(lines) + "\n"


def run_one(module_name: str, quick: bool, results: Path) -> dict[str, Any]:
    """Run one benchmark module; return its record (also written to results/)."""
    try:
        module = importlib.import_module(f"benchmarks.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"benchmarks.{module_name}":
            return {"benchmark": module_name, "error": "skipped: module not there yet"}
        return {"benchmark": module_name, "error": f"skipped: needs {exc.name}"}
    started = time.perf_counter()
    captured = io.StringIO()
    try:
        # Modules print their own progress or tables; the runner prints one table.
        # A module that calls emit() itself writes where this run writes.
        saved, _common.RESULTS = _common.RESULTS, results
        try:
            with contextlib.redirect_stdout(captured):
                result = asyncio.run(module.measure(quick=quick))
        finally:
            _common.RESULTS = saved
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        return {"benchmark": module_name, "error": f"failed: {type(exc).__name__}: {exc}"}
    result = dict(result)
    if "benchmark" in result:  # the module emitted its own record
        record = result
    else:
        rows = result.pop("rows", [])
        record = {"benchmark": module_name, "machine": machine(), **result, "rows": rows}
    record["seconds"] = round(time.perf_counter() - started, 1)
    line = json.dumps(record, sort_keys=True, default=str)
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{module_name}.json").write_text(line + "\n")
    print(line, flush=True)
    return record


def _saved(module_name: str, results: Path) -> dict[str, Any]:
    path = results / f"{module_name}.json"
    if not path.exists():
        return {"benchmark": module_name, "error": "no saved result"}
    record: dict[str, Any] = json.loads(path.read_text())
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a few seconds per benchmark")
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: table, latest.md and plots from the JSON lines already saved",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="where JSON lines and plots go (default results/, results/quick/ with --quick)",
    )
    args = parser.parse_args(argv)
    if args.results is None:
        # Quick figures never overwrite the full-mode ones the README quotes.
        args.results = RESULTS / "quick" if args.quick else RESULTS
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}; have {', '.join(BENCHMARKS)}")
    records: dict[str, dict[str, Any]] = {}
    for name in names:
        for module_name in BENCHMARKS[name]:
            if args.report_only:
                records[module_name] = _saved(module_name, args.results)
                continue
            print(f"running {module_name}{' (quick)' if args.quick else ''} ...", file=sys.stderr)
            records[module_name] = run_one(module_name, args.quick, args.results)
    rows = combined_rows(records)
    print(table(rows, ["benchmark", "subject", "figures"]))
    where = machine()
    print(f"machine: {where['cpu']}, {where['cores']} cores, Python {where['python']}")
    args.results.mkdir(parents=True, exist_ok=True)
    quick = any(r.get("quick") for r in records.values()) if args.report_only else args.quick
    (args.results / "latest.md").write_text(_markdown(rows, where, quick))
    if not args.no_plots:
        from benchmarks.plots import make_plots

        for path in make_plots(records, args.results):
            print(f"plot: {path}", file=sys.stderr)
    failed = [n for n, r in records.items() if str(r.get("error", "")).startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
