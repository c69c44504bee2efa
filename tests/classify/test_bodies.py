"""Error bodies of every shape parse into one ParsedBody; nothing raises."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience._classify.bodies import ident, parse_body
from resilience._classify.wire import decode, embedded_object


def test_openai_envelope() -> None:
    p = parse_body({"error": {"message": "m", "type": "invalid_request_error",
                              "param": "max_tokens", "code": "unsupported_parameter"}})  # fmt: skip
    assert (p.message, p.code, p.type, p.param) == (
        "m",
        "unsupported_parameter",
        "invalid_request_error",
        "max_tokens",
    )


def test_anthropic_envelope_and_details_error_code() -> None:
    details = {"error_code": "ramp_limit_exceeded"}
    body = {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "s", "details": details},
    }
    p = parse_body(json.dumps(body))
    assert p.type == "rate_limit_error" and "ramp_limit_exceeded" in p.idents


def test_google_status_details_and_retry_delay() -> None:
    body = [{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota",
                       "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                    "reason": "RATE_LIMIT_EXCEEDED"},
                                   {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                    "retryDelay": "12.5s"}]}}]  # fmt: skip
    p = parse_body(body)
    assert p.status == 429 and p.retry_delay == 12.5 and p.code == "RATE_LIMIT_EXCEEDED"
    assert "resource_exhausted" in p.idents


def test_json_inside_a_message_string_is_unwrapped() -> None:
    inner = {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
    p = parse_body({"error": {"message": json.dumps(inner), "code": 503, "status": "x"}})
    assert p.message == "The model is overloaded." and "unavailable" in p.idents


def test_openrouter_raw_upstream_error() -> None:
    raw = json.dumps(
        {"error": {"message": "context_length_exceeded", "type": "invalid_request_error"}}
    )
    p = parse_body({"error": {"message": "Provider returned error", "code": 400,
                              "metadata": {"raw": raw, "provider_name": "Fireworks",
                                           "flagged_input": "the prompt"}}})  # fmt: skip
    assert p.provider_name == "Fireworks" and p.status == 400
    assert p.message == "Provider returned error: context_length_exceeded"
    assert "flagged" in p.idents
    assert "the prompt" not in p.message and all("the prompt" not in t for t in p.texts)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error":"model \'x\' not found"}', "model 'x' not found"),
        ('"Incorrect API key provided"', "Incorrect API key provided"),
        ("plain text failure", "plain text failure"),
        (b"bytes failure", "bytes failure"),
        ({"detail": "Not authenticated"}, "Not authenticated"),
        ({"__type": "com.amazon.coral#ThrottlingException", "message": "slow"}, "slow"),
        ({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "no"),
    ],
)
def test_small_server_shapes(body: Any, message: str) -> None:
    assert parse_body(body).message == message


def test_html_error_page_gives_title_and_status() -> None:
    page = (
        "<!DOCTYPE html><html><head><title>example.com | 522: Connection timed out"
        "</title><style>x{}</style></head><body><h1>Oops</h1></body></html>"
    )
    p = parse_body(page)
    assert p.html and p.message == "example.com | 522: Connection timed out" and p.status == 522


def test_sse_error_event_and_python_repr_inside_text() -> None:
    p = parse_body('event: error\ndata: {"type":"error","error":{"type":"api_error"}}\n\n')
    assert p.stream and p.type == "api_error"
    q = parse_body("Error code: 429 - {'error': {'message': 'slow', 'type': None, 'code': 'x'}}")
    assert q.code == "x" and q.message == "slow"


def test_ident_normalisation() -> None:
    assert ident("ThrottlingException:http://internal.amazon.com/coral/") == "throttlingexception"
    assert ident("com.amazonaws#ValidationException") == "validationexception"


def test_truncated_and_huge_bodies_are_bounded() -> None:
    assert parse_body('{"error": {"message": "cut of').message.startswith('{"error"')
    huge = json.dumps({"error": {"message": "x" * 3_000_000}})
    assert len(parse_body(huge).message) > 0
    assert embedded_object("no braces here") is None
    assert decode(object()).text  # str() of anything


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300),
                 st.recursive(st.none() | st.text(max_size=20) | st.integers(),
                              lambda x: st.lists(x, max_size=3)
                              | st.dictionaries(st.sampled_from(
                                  ["error", "message", "metadata", "raw", "details", "code",
                                   "status", "type", "headers", "body"]), x, max_size=4),
                              max_leaves=15)))  # fmt: skip
def test_parse_body_never_raises(body: Any) -> None:
    p = parse_body(body)
    assert isinstance(p.message, str) and isinstance(p.idents, list)


def test_deeply_nested_json_does_not_recurse_forever() -> None:
    deep = "[" * 5000 + "]" * 5000
    assert parse_body(deep).message is not None
    nested: Any = {"error": {"message": "bottom"}}
    for _ in range(8):  # escaping doubles per level: keep the input small
        nested = {"error": {"message": json.dumps(nested)}}
    parse_body(nested)  # bounded by depth; must return


def test_botocore_sentence_gives_the_code_and_the_message() -> None:
    """str(ClientError) as LiteLLM, LangChain and Strands pass it on."""
    p = parse_body(
        "botocore.exceptions.EventStreamError: An error occurred (throttlingException) when "
        "calling the ConverseStream operation (reached max retries: 4): Too many requests."
    )
    assert "throttlingexception" in p.idents and p.code == "throttlingException"
    assert p.message == "Too many requests."


def test_botocore_sentence_inside_a_json_body_keeps_the_json_message() -> None:
    p = parse_body(
        {"error": {"message": "An error occurred (ValidationException) when calling the "
                              "Converse operation: bad input"}}
    )  # fmt: skip
    assert "validationexception" in p.idents
    assert p.message.startswith("An error occurred")


def test_aws_stream_union_member_names_the_exception() -> None:
    p = parse_body({"modelStreamErrorException": {"message": "m", "originalStatusCode": 500}})
    assert "modelstreamerrorexception" in p.idents and p.message == "m"
    assert p.type == "modelStreamErrorException"


def test_the_error_element_of_a_long_array_is_read_not_the_first_chunks() -> None:
    chunks: list[Any] = [{"candidates": [{"content": {"parts": [{"text": "x"}]}}]}] * 12
    body = [*chunks, {"error": {"code": 503, "status": "UNAVAILABLE", "message": "busy"}}]
    p = parse_body(body)
    assert p.status == 503 and p.message == "busy" and "unavailable" in p.idents
