"""Errors inside a 200 stream: which events count as errors in each wire format,
and which look alike but are not (a Responses event with ``"error": null``, a
chunk that carries choices). Real provider wording is in classify_cases.py."""

from __future__ import annotations

import binascii
import json
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience._classify.stream_errors import (
    error_object,
    eventstream_error,
    ndjson_error,
    sse_error,
)
from resilience._classify.wire import decode


def _frame(headers: dict[str, str], payload: bytes) -> bytes:
    raw = b""
    for name, value in headers.items():
        n, v = name.encode(), value.encode()
        raw += bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v
    prelude = struct.pack(">II", 16 + len(raw) + len(payload), len(raw))
    message = prelude + struct.pack(">I", binascii.crc32(prelude)) + raw + payload
    return message + struct.pack(">I", binascii.crc32(message))


@pytest.mark.parametrize(
    ("obj", "event", "expected"),
    [
        ({"error": {"message": "m"}}, "", {"error": {"message": "m"}}),
        ({"type": "error", "error": {"type": "api_error"}}, "", "same"),
        ({"object": "error", "message": "m"}, "", "same"),
        # Responses API: the failed response carries the error; hand that on.
        ({"type": "response.failed", "response": {"status": "failed", "error": {"code": "x"}}},
         "response.failed", {"status": "failed", "error": {"code": "x"}}),
        ({"code": 502, "message": "Network connection lost."}, "", "same"),
        ("not json", "error", "same"),
    ],
)  # fmt: skip
def test_error_events_of_each_shape_are_found(obj: Any, event: str, expected: Any) -> None:
    assert error_object(obj, event) == (obj if expected == "same" else expected)


@pytest.mark.parametrize(
    "obj",
    [
        {"type": "response.completed", "response": {"status": "completed", "error": None}},
        {"id": "1", "choices": [{"delta": {"content": "hi"}}], "error": None},
        {"code": 502, "message": "x", "choices": []},  # a chunk, not an error
        {"code": "502", "message": "x"},  # a string code is not an HTTP status
        {"code": 200, "message": "ok"},
        None,
        [1, 2],
    ],
)
def test_look_alikes_are_not_errors(obj: Any) -> None:
    assert error_object(obj) is None


def test_sse_reports_stream_without_error_and_non_stream() -> None:
    assert sse_error('data: {"id":"1","choices":[]}\n\ndata: [DONE]\n\n') == (True, None, "")
    assert sse_error("plain text") == (False, None, "")


def test_sse_error_event_with_a_non_json_payload_keeps_the_text() -> None:
    found, err, payload = sse_error("event: error\ndata: upstream went away\n\n")
    assert found and err == "upstream went away" and payload == "upstream went away"


def test_sse_failed_event_name_counts_even_without_an_error_object() -> None:
    found, err, _ = sse_error('event: response.failed\ndata: {"type":"response.failed"}\n\n')
    assert found and err == {"type": "response.failed"}


def test_ndjson_finds_the_error_line_after_content_lines() -> None:
    body = '{"response":"a","done":false}\n{"response":"b","done":false}\n{"error":"boom"}\n'
    assert ndjson_error(body) == {"error": "boom"}
    assert ndjson_error('{"response":"a","done":true}\n') is None


def test_eventstream_exception_frame_after_content() -> None:
    chunk = _frame({":message-type": "event", ":event-type": "contentBlockDelta"}, b"{}")
    error = _frame(
        {":message-type": "exception", ":exception-type": "serviceUnavailableException"},
        b'{"message":"Bedrock is unable to process your request."}',
    )
    found, err, message = eventstream_error(chunk + error)
    assert found and err == {
        "__type": "serviceUnavailableException",
        "message": "Bedrock is unable to process your request.",
    }
    assert message == "Bedrock is unable to process your request."
    assert eventstream_error(chunk) == (True, None, "")
    assert eventstream_error(b"\x00" * 40)[0] is False  # a length that does not add up


def test_eventstream_base64_chunk_holding_an_anthropic_error() -> None:
    import base64

    inner = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    payload = json.dumps({"bytes": base64.b64encode(json.dumps(inner).encode()).decode()})
    found, err, _ = eventstream_error(_frame({":message-type": "event"}, payload.encode()))
    assert found and err == inner


def test_a_cut_off_gemini_array_stream_still_yields_its_error() -> None:
    """The JSON array never closes, so the body does not parse as a whole."""
    chunks = ",\r\n".join(
        '{"candidates": [{"content": {"parts": [{"text": "x"}]}}]}' for _ in range(9)
    )
    body = "[" + chunks + ',\r\n{"error": {"code": 503, "status": "UNAVAILABLE", "message": "m"}}'
    dec = decode(body)
    assert dec.stream and dec.obj == {
        "error": {"code": 503, "status": "UNAVAILABLE", "message": "m"}
    }


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_stream_readers_never_raise(data: Any) -> None:
    if isinstance(data, bytes):
        eventstream_error(data)
        text = data.decode("utf-8", "replace")
    else:
        text = data
    sse_error(text)
    ndjson_error(text)
