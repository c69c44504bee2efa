"""How right and how fast classify() is on the cited real provider errors.

Peers in the same run, on the same cases:

* ``status only``: DESIGN.md's status table alone (what a classifier that
  ignores bodies would say), with retryable = 408/409/429/5xx, the rule the
  openai and anthropic SDKs use for their own retries;
* ``classify``: this library, reading status, headers and body.

Reported: kind accuracy, retryable accuracy, retry_after accuracy (the wait
the response asked for, within 1 ms) and the cost per call; then, for the
classes of misreading issue #14 named (an error type outranking the status,
location blocks, errors inside a 200 stream, retry hints in bodies), how many
of their cases each classifier gets entirely right (kind, retryable and
retry_after).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from benchmarks._common import emit, table
from resilience import Failure, Kind
from resilience._classify.classify import STATUS_KINDS, classify
from tests.classify.cases import CASES

NOW = 1_700_000_000.0


def _status_only(case: dict[str, Any]) -> Failure:
    status = case["status"]
    if not isinstance(status, int) or not 400 <= status < 600:
        return Failure.of(Kind.UNKNOWN, status=status)
    kind = STATUS_KINDS.get(status, Kind.SERVER if status >= 500 else Kind.BAD_REQUEST)
    retryable = status in (408, 409, 429) or status >= 500
    return Failure.of(kind, status=status, retryable=retryable)


def _classify(case: dict[str, Any]) -> Failure:
    return classify(
        status=case["status"],
        headers=case["headers"],
        body=case["body"],
        provider=case["provider"],
        now=NOW,
    )


def _right(f: Failure, case: dict[str, Any]) -> bool:
    expected = case["retry_after"]
    wait_ok = (
        f.retry_after is None
        if expected is None
        else f.retry_after is not None and math.isclose(f.retry_after, expected, abs_tol=1e-3)
    )
    return f.kind.value == case["kind"] and f.retryable is case["retryable"] and wait_ok


def _by_group(fn: Callable[[dict[str, Any]], Failure]) -> dict[str, str]:
    groups = sorted({c["group"] for c in CASES if c.get("group")})
    out = {}
    for group in groups:
        cases = [c for c in CASES if c.get("group") == group]
        out[group] = f"{sum(_right(fn(c), c) for c in cases)}/{len(cases)}"
    return out


def _score(fn: Callable[[dict[str, Any]], Failure], repeat: int) -> dict[str, Any]:
    kind = retry = wait = 0
    for case in CASES:
        f = fn(case)
        kind += f.kind.value == case["kind"]
        retry += f.retryable is case["retryable"]
        expected = case["retry_after"]
        wait += (
            f.retry_after is None
            if expected is None
            else f.retry_after is not None and math.isclose(f.retry_after, expected, abs_tol=1e-3)
        )
    start = time.perf_counter()
    for _ in range(repeat):
        for case in CASES:
            fn(case)
    per_call = (time.perf_counter() - start) / (repeat * len(CASES))
    n = len(CASES)
    return {
        "kind_ok": f"{kind}/{n}",
        "retryable_ok": f"{retry}/{n}",
        "retry_after_ok": f"{wait}/{n}",
        "us_per_call": per_call * 1e6,
    }


async def measure(quick: bool = False) -> dict[str, Any]:
    repeat = 2 if quick else 30
    rows = [
        {"classifier": "status only", **_score(_status_only, repeat)},
        {"classifier": "classify", **_score(_classify, repeat)},
    ]
    by_group = {
        "status only": _by_group(_status_only),
        "classify": _by_group(_classify),
    }
    print(table([{"classifier": name, **groups} for name, groups in by_group.items()]))
    return emit("classify", rows, cases=len(CASES), repeat=repeat, quick=quick, by_group=by_group)


def main() -> None:
    asyncio.run(measure())


if __name__ == "__main__":
    main()
