"""Errors that arrive inside a stream that began with HTTP 200.

Once a provider has sent the status line and the first chunks, a failure can
only travel in-band. Each wire format has its own way of saying so:

* server-sent events: an ``event: error`` block (Anthropic
  ``overloaded_error``/``api_error``, OpenAI Responses ``error``), an
  ``event: response.failed`` whose ``response.error`` names the cause
  (OpenAI and Azure Responses), or a ``data:`` chunk with a top-level
  ``error`` object (OpenAI-compatible servers, OpenRouter, LiteLLM, vLLM,
  Gemini ``alt=sse``) or with an HTTP-like ``code`` and ``message``
  (OpenRouter's mid-stream provider failures);
* newline-delimited JSON (Ollama): a line ``{"error": "..."}``;
* AWS event-stream frames (Bedrock ConverseStream and
  InvokeModelWithResponseStream): a frame whose ``:message-type`` is
  ``exception`` and whose ``:exception-type`` names it
  (``throttlingException``, ``serviceUnavailableException``,
  ``modelStreamErrorException``, ``internalServerException``,
  ``validationException``), or a chunk whose base64 payload is itself an
  Anthropic error event.

Gemini's non-SSE ``streamGenerateContent`` is a JSON array whose last
element may be ``{"error": ...}``; :mod:`resilience._classify.bodies` reads that.
Every scan here is bounded and nothing raises.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

__all__ = ["StreamError", "error_object", "eventstream_error", "ndjson_error", "sse_error"]

_MAX_LINES = 2000
_MAX_FRAMES = 500
_FAILED_SUFFIXES = (".failed", ".error")

# (found a stream at all, the error payload and its raw text if there was one)
StreamError = tuple[bool, Any, str]
_NOT_A_STREAM: StreamError = (False, None, "")
_CLEAN_STREAM: StreamError = (True, None, "")


def _load(text: str) -> Any:
    try:
        return json.loads(text)
    except Exception:
        return None


def error_object(obj: Any, event: str = "") -> Any:
    """The object carrying the error in a stream event, or None when the event
    is not an error. ``event`` is the SSE event name, lowercased."""
    if isinstance(obj, dict):
        response = obj.get("response")
        if isinstance(response, dict) and response.get("error"):
            return response  # Responses API: the failed response holds the error
        if obj.get("error") or obj.get("type") == "error" or obj.get("object") == "error":
            return obj
        code = obj.get("code")
        if (
            isinstance(code, int)
            and not isinstance(code, bool)
            and code >= 400
            and isinstance(obj.get("message"), str)
            and "choices" not in obj
            and "candidates" not in obj
        ):
            return obj
    if event == "error" or event.endswith(_FAILED_SUFFIXES):
        return obj if obj is not None else {}
    return None


def sse_error(text: str) -> StreamError:
    """The first error event of a server-sent-event stream."""
    event = ""
    found = False
    for raw in text.splitlines()[:_MAX_LINES]:
        line = raw.strip()
        if line.startswith("event:"):
            event = line[6:].strip().lower()
            found = True
            continue
        if not line.startswith("data:"):
            if not line:
                event = ""
            continue
        found = True
        payload = line[5:].strip()
        obj = _load(payload)
        err = error_object(obj, event)
        if err is not None:
            return True, (payload if obj is None else err), payload
    return _CLEAN_STREAM if found else _NOT_A_STREAM


def ndjson_error(text: str) -> Any:
    """The first line of a newline-delimited JSON stream that carries an error."""
    for line in text.splitlines()[:_MAX_LINES]:
        err = error_object(_load(line.strip()))
        if err is not None:
            return err
    return None


# AWS event-stream framing: total length, headers length, prelude CRC,
# headers, payload, message CRC. Value sizes by header type, for skipping.
_HEADER_VALUE_SIZES = {2: 1, 3: 2, 4: 4, 5: 8, 8: 8, 9: 16}


def _eventstream_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    i = 0
    while i < len(raw):
        name_len = raw[i]
        name = raw[i + 1 : i + 1 + name_len].decode("utf-8", "replace")
        i += 1 + name_len
        vtype = raw[i]
        i += 1
        if vtype in (0, 1):
            headers[name] = "true" if vtype == 0 else "false"
        elif vtype in (6, 7):
            (vlen,) = struct.unpack(">H", raw[i : i + 2])
            headers[name] = raw[i + 2 : i + 2 + vlen].decode("utf-8", "replace")
            i += 2 + vlen
        elif vtype in _HEADER_VALUE_SIZES:
            i += _HEADER_VALUE_SIZES[vtype]
        else:
            break
    return headers


def eventstream_error(data: bytes) -> StreamError:
    """The first exception frame of an AWS event stream, as ``{"__type",
    "message"}`` so that the exception name reads like any AWS error type."""
    pos = 0
    frames = 0
    while pos + 16 <= len(data) and frames < _MAX_FRAMES:
        total, hlen = struct.unpack(">II", data[pos : pos + 8])
        if total < 16 or hlen > total - 16 or pos + total > len(data):
            return _NOT_A_STREAM
        headers = _eventstream_headers(data[pos + 12 : pos + 12 + hlen])
        payload = data[pos + 12 + hlen : pos + total - 4]
        pos += total
        frames += 1
        mtype = headers.get(":message-type", "")
        obj = _load(payload.decode("utf-8", "replace"))
        if mtype in ("exception", "error"):
            name = headers.get(":exception-type") or headers.get(":error-code") or "exception"
            message = headers.get(":error-message", "")
            if isinstance(obj, dict):
                message = str(obj.get("message") or obj.get("Message") or message)
            return True, {"__type": name, "message": message}, message
        # A chunk whose base64 payload is itself an error event (Anthropic on Bedrock).
        if isinstance(obj, dict) and isinstance(obj.get("bytes"), str):
            try:
                inner = _load(base64.b64decode(obj["bytes"]).decode("utf-8", "replace"))
            except Exception:
                inner = None
            err = error_object(inner)
            if err is not None:
                return True, err, json.dumps(inner)[:2000]
    return _CLEAN_STREAM if frames else _NOT_A_STREAM
