"""The wire-format tables: what a request asks for, the same request without
a feature, and the usage an answer reports, one table per format."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from resilience._core.usage import usage_of
from resilience.wire import (
    ANTHROPIC_MESSAGES,
    LANGCHAIN,
    LITELLM,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    WireFormat,
    format_for_path,
)

SCHEMA = {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}}

# (format, request params, features asked for, params left after dropping all)
REQUESTS: list[tuple[WireFormat, dict[str, Any], set[str], dict[str, Any]]] = [
    (
        OPENAI_CHAT,
        {
            "messages": [],
            "tools": [{}],
            "tool_choice": "auto",
            "parallel_tool_calls": True,
            "response_format": SCHEMA,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        {"tools", "json", "stream"},
        {"messages": []},
    ),
    (OPENAI_CHAT, {"functions": [{}], "function_call": "auto"}, {"tools"}, {}),
    (OPENAI_CHAT, {"response_format": {"type": "text"}}, set(), {}),
    (
        OPENAI_RESPONSES,
        {"input": "hi", "tools": [{}], "text": {"format": SCHEMA, "verbosity": "low"}},
        {"tools", "json"},
        {"input": "hi", "text": {"verbosity": "low"}},
    ),
    (
        ANTHROPIC_MESSAGES,
        {
            "messages": [],
            "tools": [{}],
            "tool_choice": {"type": "auto"},
            "output_config": {"format": SCHEMA},
            "stream": True,
        },
        {"tools", "json", "stream"},
        {"messages": []},
    ),
    (ANTHROPIC_MESSAGES, {"output_format": SCHEMA}, {"json"}, {}),
    (LITELLM, {"response_format": object, "tools": [{}]}, {"json", "tools"}, {}),
    (LANGCHAIN, {"streaming": True, "strict": True, "tools": [{}]}, {"stream", "tools"}, {}),
]


@pytest.mark.parametrize(("fmt", "params", "asks", "left"), REQUESTS)
def test_a_request_asks_for_its_features_and_loses_every_parameter_of_a_dropped_one(
    fmt: WireFormat, params: dict[str, Any], asks: set[str], left: dict[str, Any]
) -> None:
    assert fmt.features(params) == asks
    stripped = fmt.without(params, frozenset({"tools", "json", "stream"}))
    assert stripped == left
    assert fmt.features(stripped) == frozenset()
    assert fmt.without(params, frozenset()) == params  # nothing dropped, nothing changed


def test_dropping_one_feature_keeps_the_others() -> None:
    params = {"tools": [{}], "response_format": SCHEMA, "stream": True}
    assert OPENAI_CHAT.features(OPENAI_CHAT.without(params, frozenset({"json"}))) == {
        "tools",
        "stream",
    }


def test_anthropic_usage_counts_cache_writes_but_not_cache_reads() -> None:
    """Anthropic's input limit counts cache writes and leaves cache reads out;
    the adapter's report and the limiter's own reading agree on it."""
    usage = SimpleNamespace(
        input_tokens=10,
        output_tokens=5,
        cache_creation_input_tokens=100,
        cache_read_input_tokens=1000,
    )
    assert ANTHROPIC_MESSAGES.usage(usage) == {"input_tokens": 110, "output_tokens": 5}
    assert usage_of(SimpleNamespace(usage=usage)) == (110, 5)


@pytest.mark.parametrize(
    ("fmt", "usage", "expected"),
    [
        (OPENAI_CHAT, {"prompt_tokens": 7, "completion_tokens": 3}, (7, 3)),
        (OPENAI_RESPONSES, SimpleNamespace(input_tokens=7, output_tokens=3), (7, 3)),
        (LITELLM, SimpleNamespace(prompt_tokens=7, completion_tokens=None), (7, 0)),
        (LANGCHAIN, {"input_tokens": 7, "output_tokens": 3, "total_tokens": 10}, (7, 3)),
    ],
)
def test_each_format_reads_its_own_usage_fields_as_the_limiter_does(
    fmt: WireFormat, usage: Any, expected: tuple[int, int]
) -> None:
    got = fmt.usage(usage)
    assert got is not None and (got["input_tokens"], got["output_tokens"]) == expected
    assert usage_of(None, got) == expected == usage_of({"usage": usage})


@pytest.mark.parametrize(
    "garbage", [None, "12", 12, {"prompt_tokens": -1}, {"prompt_tokens": float("nan")}, {}]
)
def test_garbage_usage_reads_as_none_never_raises(garbage: Any) -> None:
    for fmt in (OPENAI_CHAT, ANTHROPIC_MESSAGES, LANGCHAIN):
        assert fmt.usage(garbage) is None


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("/v1/messages", ANTHROPIC_MESSAGES),
        ("/v1/responses/", OPENAI_RESPONSES),
        ("/v1/chat/completions", OPENAI_CHAT),
        ("/openai/deployments/x/chat/completions", OPENAI_CHAT),
    ],
)
def test_an_http_request_is_read_in_the_format_of_its_path(path: str, fmt: WireFormat) -> None:
    assert format_for_path(path) is fmt
