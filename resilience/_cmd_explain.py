"""``resilience explain``: what a status code or error response means."""

from __future__ import annotations

import argparse
import json

from resilience._classify import classify


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("code", nargs="?", type=int, help="HTTP status code")
    p.add_argument("--status", type=int, help="HTTP status code")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    status = args.status if args.status is not None else args.code
    f = classify(status=status)
    if args.json:
        print(json.dumps({"kind": f.kind.value, "bucket": f.bucket.value, "hint": f.hint}))
    else:
        print(f"kind: {f.kind.value}\nbucket: {f.bucket.value}\nhint: {f.hint}")
    return 0
