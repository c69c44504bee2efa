"""Actual usage read from results (resilience._core.usage), for every host's shape."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resilience._core.usage import usage_of


def test_openai_chat_completion_usage() -> None:
    from openai.types.chat import ChatCompletion

    result = ChatCompletion.model_validate(
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": "hi"},
                }
            ],
            "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
        }
    )
    assert usage_of(result) == (12, 5)


def test_anthropic_message_usage_counts_cache_writes_as_input() -> None:
    from anthropic.types import Message

    result = Message.model_validate(
        {
            "id": "m1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "hi"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 20,
                "output_tokens": 7,
                "cache_creation_input_tokens": 3,
                "cache_read_input_tokens": 100,
            },
        }
    )
    assert usage_of(result) == (23, 7)


def test_langchain_ai_message_usage_metadata() -> None:
    from langchain_core.messages import AIMessage

    message = AIMessage(
        content="hi", usage_metadata={"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}
    )
    assert usage_of(message) == (9, 4)


def test_litellm_model_response_usage() -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    litellm_utils = pytest.importorskip("litellm.types.utils")
    result = litellm_utils.ModelResponse(
        usage=litellm_utils.Usage(prompt_tokens=30, completion_tokens=8, total_tokens=38)
    )
    assert usage_of(result) == (30, 8)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"usage": {"prompt_tokens": 1, "completion_tokens": 2}}, (1, 2)),
        ({"usage": {"input_tokens": 3, "output_tokens": 4}}, (3, 4)),
        ({"input_tokens": 5, "output_tokens": 6}, (5, 6)),
        ({"usage": {"total_tokens": 11}}, (11, 0)),
        (SimpleNamespace(usage=SimpleNamespace(prompt_tokens=7, completion_tokens=None)), (7, 0)),
    ],
)
def test_plain_dicts_and_objects_of_either_shape(result: Any, expected: tuple[int, int]) -> None:
    assert usage_of(result) == expected


def test_reported_usage_wins_over_the_result() -> None:
    result = {"usage": {"prompt_tokens": 100, "completion_tokens": 100}}
    assert usage_of(result, {"input_tokens": 1, "output_tokens": 2}) == (1, 2)


def test_a_report_without_counts_falls_back_to_the_result() -> None:
    result = {"usage": {"prompt_tokens": 100, "completion_tokens": 1}}
    assert usage_of(result, {"model": 3}) == (100, 1)


@pytest.mark.parametrize(
    "result",
    [
        None,
        "text",
        42,
        {"usage": None},
        {"usage": {"prompt_tokens": -1, "completion_tokens": "many"}},
        {"usage": {"prompt_tokens": True}},
        {"usage": {"prompt_tokens": float("nan")}},
        {"usage": {"prompt_tokens": 10**12}},
        SimpleNamespace(usage="garbage"),
    ],
)
def test_garbage_gives_unknown_usage(result: Any) -> None:
    assert usage_of(result) is None


class _Exploding:
    @property
    def usage(self) -> Any:
        raise RuntimeError("broken property")


def test_a_result_whose_attributes_raise_gives_unknown_usage() -> None:
    assert usage_of(_Exploding()) is None


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "usage",
                    "prompt_tokens",
                    "completion_tokens",
                    "input_tokens",
                    "output_tokens",
                    "x",
                ]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@given(_json, st.one_of(st.none(), st.dictionaries(st.text(max_size=15), _json, max_size=3)))
def test_usage_of_never_raises_and_only_returns_sane_counts(result: Any, reported: Any) -> None:
    found = usage_of(result, reported)
    if found is not None:
        assert all(isinstance(n, int) and 0 <= n <= 200_000_000 for n in found)
