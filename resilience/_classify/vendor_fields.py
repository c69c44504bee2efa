"""Fields only some providers send, read into a :class:`ParsedBody`.

* Google (Gemini, Vertex): the ``details`` list of ``google.rpc`` messages;
* botocore: ``str(ClientError)`` as SDK wrappers (LiteLLM, LangChain,
  Strands) pass it on, ``An error occurred (Code) when calling the Op
  operation: message``, whose code is the error identifier.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

from resilience._classify.parsed import ParsedBody, text_of
from resilience._core.headers import parse_duration

__all__ = ["Sink", "botocore_sentence", "google_details"]

_BOTOCORE = re.compile(
    r"An error occurred \(([A-Za-z][\w.]{0,80})\) when calling the \w+ operation"
    r"(?: \([^)]{0,80}\))?: ?(.*)",
    re.S,
)


class Sink(Protocol):
    """Where readers put what they find (the body walker)."""

    out: ParsedBody

    def add_ident(self, value: Any) -> None: ...

    def add_text(self, value: str) -> None: ...


def google_details(sink: Sink, details: list[Any]) -> None:
    """Google's ``google.rpc`` details: RetryInfo (the wait), ErrorInfo (the
    reason, more specific than the status), QuotaFailure (which quota, and its
    window in the quota id), BadRequest and LocalizedMessage (more words)."""
    out = sink.out
    for d in details[:10]:
        if not isinstance(d, dict):
            continue
        kind = str(d.get("@type", "")).rsplit(".", 1)[-1]
        if kind == "RetryInfo":
            delay = d.get("retryDelay")
            seconds: float | None = None
            if isinstance(delay, str):
                seconds = parse_duration(delay)
            elif isinstance(delay, dict):
                try:
                    seconds = float(delay.get("seconds", 0)) + float(delay.get("nanos", 0)) / 1e9
                except (TypeError, ValueError):
                    seconds = None
            if seconds is not None and out.retry_delay is None:
                out.retry_delay = seconds
        elif kind == "ErrorInfo":
            sink.add_ident(d.get("reason", ""))
            if isinstance(d.get("reason"), str) and out.reason is None:
                out.reason = d["reason"]
            meta = d.get("metadata")
            if isinstance(meta, dict):
                for v in list(meta.values())[:6]:
                    if isinstance(v, str) and len(v) < 120:
                        sink.add_ident(v)
        elif kind == "QuotaFailure":
            for v in (d.get("violations") or [])[:5]:
                if isinstance(v, dict):
                    for key in ("quotaId", "quotaMetric", "subject"):
                        sink.add_ident(v.get(key, ""))
                    sink.add_text(text_of(v.get("description")))
        elif kind == "BadRequest":
            for v in (d.get("fieldViolations") or [])[:5]:
                if isinstance(v, dict):
                    sink.add_text(text_of(v.get("description")))
        elif kind == "LocalizedMessage":
            sink.add_text(text_of(d.get("message")))


def botocore_sentence(sink: Sink, text: str, structured: bool) -> None:
    """botocore's ``str(ClientError)``: the error code in parentheses is the
    identifier, the rest of the sentence the provider's message."""
    out = sink.out
    m = _BOTOCORE.search(text[:20000])
    if m is None:
        return
    sink.add_ident(m.group(1))
    if out.code is None:
        out.code = m.group(1)
    message = m.group(2).strip()
    if message:
        sink.add_text(message)
        if not structured:
            out.message = message
