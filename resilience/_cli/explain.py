"""``resilience explain``: what a status code or an error response means.

Examples::

    resilience explain 429
    resilience explain --status 400 --body '{"error": {...}}' --provider openai
    resilience explain --status 429 --header 'retry-after: 3' --body -   # body on stdin
    curl -s ... | resilience explain --status 529 --json
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from resilience._classify.classify import classify
from resilience._core.failure import Failure

__all__ = ["add_arguments", "explain", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "code",
        nargs="?",
        help="HTTP status code, or an error message/body to classify",
    )
    p.add_argument("--status", type=int, help="HTTP status code of the failed response")
    p.add_argument(
        "--body",
        help="response body (JSON, text, HTML or SSE); '-' reads it from stdin",
    )
    p.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a response header; repeat for several",
    )
    p.add_argument("--provider", help="provider name, e.g. openai, anthropic, gemini")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _headers(values: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition(":")
        if not sep:
            name, sep, value = item.partition("=")
        if name.strip():
            headers[name.strip().lower()] = value.strip()
    return headers


def _stdin_ready(stdin: TextIO) -> bool:
    """Data waiting on a non-interactive stdin (a pipe or a file)."""
    try:
        if stdin.isatty():
            return False
        import select

        readable, _, _ = select.select([stdin], [], [], 0.2)
        return bool(readable)
    except Exception:
        return False


def _read_body(args: argparse.Namespace, stdin: TextIO) -> str | None:
    if args.body == "-":
        return stdin.read()
    if args.body is not None:
        return str(args.body)
    if _stdin_ready(stdin):
        text = stdin.read()
        return text if text.strip() else None
    return None


def explain(failure: Failure) -> dict[str, Any]:
    """The fields the CLI prints, as plain JSON-ready values."""
    return {
        "kind": failure.kind.value,
        "bucket": failure.bucket.value,
        "status": failure.status,
        "retryable": failure.retryable,
        "failover": failure.failover,
        "trips_breaker": failure.trips_breaker,
        "retry_after": failure.retry_after,
        "code": failure.code,
        "feature": failure.feature,
        "provider": failure.provider,
        "message": failure.message,
        "hint": failure.hint,
    }


def _text(fields: dict[str, Any]) -> str:
    def show(value: Any) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None or value == "":
            return "-"
        if isinstance(value, float):
            return f"{value:g}s"
        return str(value)

    order = ["kind", "bucket", "status", "retryable", "failover", "retry_after", "code"]
    order += [k for k in ("feature", "provider", "message") if fields.get(k)]
    order.append("hint")
    return "\n".join(f"{name + ':':<13}{show(fields[name])}" for name in order)


def run(args: argparse.Namespace, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    status = args.status
    body = _read_body(args, stdin)
    if args.code is not None:
        code = str(args.code).strip()
        if code.isdigit() and status is None:
            status = int(code)
        elif body is None:
            body = code
    if status is None and body is None and not args.header:
        print(
            "resilience explain: give a status code, --body, --header or a body on stdin",
            file=sys.stderr,
        )
        return 2
    failure = classify(
        status=status, headers=_headers(args.header), body=body, provider=args.provider
    )
    fields = explain(failure)
    if args.json:
        print(json.dumps(fields), file=stdout)
    else:
        print(_text(fields), file=stdout)
    return 0
