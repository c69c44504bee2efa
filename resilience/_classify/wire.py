"""Turn whatever a provider sent back into a Python object and some text.

A failed response body arrives in many shapes: JSON text, a bare JSON
string, bytes, an already-decoded dict, plain text, an HTML error page from
a CDN or proxy, a stream that began with HTTP 200 and then carried an error
(server-sent events, NDJSON, AWS event-stream frames: see
:mod:`resilience._classify.stream_errors`), or an SDK's ``str(exc)`` with a Python
``repr`` of the body inside it. This module only decodes;
:mod:`resilience._classify.bodies` interprets.

Nothing here raises, and every scan is bounded so a multi-megabyte body
costs no more than its first stretch.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from resilience._classify.stream_errors import eventstream_error, ndjson_error, sse_error

__all__ = ["Decoded", "decode", "embedded_object", "load_json"]

_MAX_TEXT = 100_000
_MAX_EMBEDDED = 20_000

_HTML_START = re.compile(r"^\s*(<!doctype html|<html|<head|<body|<\?xml|<h1|<center|<title)", re.I)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.I | re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.I | re.S)
_TAGS = re.compile(r"<script.*?</script>|<style.*?</style>|<[^>]+>", re.I | re.S)
_ENTITY = re.compile(r"&(nbsp|amp|lt|gt|quot|#39);")
_ENTITIES = {"nbsp": " ", "amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}
_SPACES = re.compile(r"\s+")


@dataclass(slots=True)
class Decoded:
    """The decoded body: ``obj`` when structured, ``text`` always."""

    obj: Any = None
    text: str = ""
    html: bool = False
    stream: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def load_json(text: str) -> Any:
    """``json.loads`` that returns None instead of raising."""
    try:
        return json.loads(text)
    except Exception:
        return None


def _strip_html(html: str) -> str:
    text = _TAGS.sub(" ", html)
    text = _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)
    return _SPACES.sub(" ", text).strip()


def _decode_html(text: str) -> Decoded:
    title = _TITLE.search(text)
    h1 = _H1.search(text)
    summary = _strip_html(title.group(1)) if title else ""
    if not summary and h1:
        summary = _strip_html(h1.group(1))
    body = _strip_html(text)[:600]
    return Decoded(obj=None, text=f"{summary} {body}".strip(), html=True, extra={"title": summary})


def _balanced_spans(text: str, limit: int = 4) -> Iterator[str]:
    """Substrings that open with ``{`` or ``[`` and close at the matching bracket."""
    starts = 0
    i = 0
    n = min(len(text), _MAX_EMBEDDED)
    while i < n and starts < limit:
        if text[i] not in "{[":
            i += 1
            continue
        starts += 1
        depth = 0
        quote = ""
        j = i
        while j < n:
            c = text[j]
            if quote:
                if c == "\\":
                    j += 1
                elif c == quote:
                    quote = ""
            elif c in "\"'":
                quote = c
            elif c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    yield text[i : j + 1]
                    break
            j += 1
        i += 1


def embedded_object(text: str) -> Any:
    """The first JSON object or Python literal dict/list embedded in ``text``."""
    try:
        for span in _balanced_spans(text):
            if len(span) < 2:
                continue
            obj = load_json(span)
            if obj is None:
                try:
                    obj = ast.literal_eval(span)
                except Exception:
                    obj = None
            if isinstance(obj, dict | list) and obj:
                return obj
    except Exception:
        return None
    return None


def _error_span(s: str) -> Any:
    """The JSON object around the first ``"error"`` key of a text that does not
    parse as a whole: the last element of a cut-off Gemini JSON-array stream,
    an error object after a long SDK preamble."""
    at = s.find('"error"')
    start = s.rfind("{", 0, at) if at > 0 else -1
    if start < 0:
        return None
    obj = embedded_object(s[start : start + _MAX_EMBEDDED])
    return obj if isinstance(obj, dict) and obj.get("error") else None


def _decode_text(text: str) -> Decoded:
    text = text[:_MAX_TEXT].replace("\x00", "")
    s = text.strip()
    if not s:
        return Decoded()
    if s[0] in '{["':
        obj = load_json(s)
        if obj is not None:
            if isinstance(obj, str):  # a bare JSON string, maybe JSON inside
                inner = _decode_text(obj)
                return inner if inner.obj is not None else Decoded(obj=obj, text=obj)
            return Decoded(obj=obj, text=s)
    if _HTML_START.match(s) or ("</" in s and re.search(r"<(html|body|title|h1)\b", s, re.I)):
        return _decode_html(s)
    if s.startswith(("event:", "data:", ":")) or "\ndata:" in s or "\nevent:" in s:
        found, err, payload = sse_error(s)
        if found:
            return Decoded(obj=err, text=payload, stream=True)
    if "\n" in s and s[0] == "{":
        err = ndjson_error(s)
        if err is not None:
            return Decoded(obj=err, text=s, stream=True)
    if s[0] == "[" and '"error"' in s:
        err = _error_span(s)
        if err is not None:
            return Decoded(obj=err, text=s, stream=True)
    obj = embedded_object(s) if ("{" in s or "[" in s) else None
    return Decoded(obj=obj, text=s)


def decode(body: Any) -> Decoded:
    """Decode a body of any shape. Never raises."""
    try:
        if body is None:
            return Decoded()
        if isinstance(body, bytes | bytearray | memoryview):
            data = bytes(body)[: _MAX_TEXT * 4]
            if len(data) >= 16 and data[:1] == b"\x00":
                found, err, message = eventstream_error(data)
                if found:
                    return Decoded(obj=err, text=message, stream=True)
            return _decode_text(data.decode("utf-8", "replace"))
        if isinstance(body, str):
            return _decode_text(body)
        if isinstance(body, dict | list | tuple):
            obj = list(body) if isinstance(body, tuple) else body
            try:
                text = json.dumps(obj, default=str)[:_MAX_TEXT]
            except Exception:
                text = str(obj)[:_MAX_TEXT]
            return Decoded(obj=obj, text=text)
        dump = getattr(body, "model_dump", None)  # pydantic models (SDK error objects)
        if callable(dump):
            return decode(dump())
        return _decode_text(str(body))
    except Exception:
        return Decoded()
