"""``python -m benchmarks``: one cheap benchmark in quick mode gives its JSON
line, the combined table, a results file, and a note for a missing module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import __main__ as runner

ROOT = Path(__file__).resolve().parents[1]


def test_runner_quick_scale_prints_a_json_line_and_the_combined_table(tmp_path: Path) -> None:
    """The real command, in a subprocess: scale in quick mode (about two seconds)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--only",
            "scale",
            "--no-plots",
            "--results",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(records) == 1
    record = records[0]
    assert record["benchmark"] == "scale" and record["quick"] is True
    assert {"cpu", "cores", "python"} <= set(record["machine"])
    metrics = {row["metric"]: row for row in record["rows"]}
    per_call = next(v for k, v in metrics.items() if k.startswith("memory per call in flight"))
    assert per_call["unit"] == "bytes" and per_call["value"] > 0
    assert any(k.startswith("calls/s") and v["value"] > 0 for k, v in metrics.items())
    # The combined table: a header naming its columns, a rule, a row per figure.
    header = next(i for i, line in enumerate(lines) if line.startswith("benchmark "))
    assert lines[header].split() == ["benchmark", "subject", "figures"]
    assert set(lines[header + 1].replace(" ", "")) == {"-"}
    assert sum(1 for line in lines[header + 2 :] if line.startswith("scale ")) == len(metrics)
    saved = json.loads((tmp_path / "scale.json").read_text())
    assert saved["rows"] == record["rows"]
    assert "| scale |" in (tmp_path / "latest.md").read_text()


def test_missing_benchmark_module_is_reported_and_skipped(tmp_path: Path) -> None:
    record = runner.run_one("no_such_benchmark", True, tmp_path)
    assert record["error"].startswith("skipped")
    rows = runner.combined_rows({"no_such_benchmark": record})
    assert rows == [{"benchmark": "no_such_benchmark", "subject": "-", "figures": record["error"]}]
    assert not (tmp_path / "no_such_benchmark.json").exists()


def test_unknown_benchmark_name_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exc:
        runner.main(["--only", "nope"])
    assert exc.value.code == 2


def test_report_only_rebuilds_the_table_from_saved_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Nothing runs: the combined table and latest.md come from the JSON lines on disk."""
    saved = {
        "benchmark": "scale",
        "machine": {"cpu": "test-cpu", "cores": 2, "python": "3.11", "platform": "linux"},
        "quick": False,
        "rows": [{"metric": "calls/s, 1 caller", "value": 1234, "unit": "calls/s"}],
    }
    (tmp_path / "scale.json").write_text(json.dumps(saved) + "\n")
    code = runner.main(
        ["--report-only", "--only", "scale", "--no-plots", "--results", str(tmp_path)]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "calls/s, 1 caller" in out and "1,234 calls/s" in out
    assert "| scale | calls/s, 1 caller | 1,234 calls/s |" in (tmp_path / "latest.md").read_text()
