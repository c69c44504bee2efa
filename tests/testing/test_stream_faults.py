"""FakeProvider's stream faults and continuations, seen through the real SDKs."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx
import openai
import pytest

from resilience import ConfigError
from resilience.testing import FakeProvider, StreamFault
from tests.testing.conftest import anthropic_client, openai_client

USER: Any = [{"role": "user", "content": "Tell a short story about a lighthouse."}]
GPT = "gpt-4o-mini"
CLAUDE = "claude-haiku-4-5"


async def openai_text(fp: FakeProvider, messages: Any = USER, **kw: Any) -> tuple[str, Any]:
    stream = await openai_client(fp).chat.completions.create(
        model=kw.pop("model", GPT), messages=messages, stream=True, **kw
    )
    texts, finish = [], None
    async for chunk in stream:
        for choice in chunk.choices:
            texts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    return "".join(texts), finish


async def claude_text(fp: FakeProvider, messages: Any = USER, model: str = CLAUDE) -> str:
    stream = await anthropic_client(fp).messages.create(
        model=model, max_tokens=100, messages=messages, stream=True
    )
    texts = []
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            texts.append(event.delta.text)
    return "".join(texts)


def test_faults_are_written_as_objects_or_strings_and_bad_ones_refused() -> None:
    assert StreamFault.parse("cut:40") == StreamFault.cut(40)
    assert str(StreamFault.malformed(3)) == "malformed:3"
    assert StreamFault.parse("cut") is None and StreamFault.parse("melt:3") is None
    with pytest.raises(ConfigError, match="after"):
        StreamFault.stall(-1)
    fp = FakeProvider()
    fp.script(None, ["stall:2", StreamFault.truncate(1)])  # accepted
    with pytest.raises(ConfigError, match="script"):
        fp.script(None, ["cut:x"])


async def test_a_cut_drops_the_connection_after_exactly_n_events() -> None:
    async with FakeProvider() as fp:
        whole, _ = await openai_text(fp)
        fp.script(GPT, [StreamFault.cut(4)])  # the role chunk and three words
        stream = await openai_client(fp).chat.completions.create(
            model=GPT, messages=USER, stream=True
        )
        seen: list[str] = []
        with pytest.raises(httpx.RemoteProtocolError):
            async for chunk in stream:
                seen.append(chunk.choices[0].delta.content or "")
    assert len(seen) == 4 and whole.startswith("".join(seen)) and "".join(seen) != whole
    assert fp.count("cut") == 1 and fp.requests[-1].status == 200


async def test_a_truncated_stream_ends_quietly_without_its_finish_chunk() -> None:
    """What makes a truncated answer look like a success to a bare SDK."""
    async with FakeProvider() as fp:
        whole, finish = await openai_text(fp)
        fp.script(GPT, ["truncate:5"])
        cut, cut_finish = await openai_text(fp)
    assert finish == "stop" and cut_finish is None
    assert whole.startswith(cut) and len(cut) < len(whole)


async def test_a_malformed_event_makes_the_sdk_raise_a_json_error() -> None:
    async with FakeProvider() as fp:
        fp.script(GPT, [StreamFault.malformed(3)])
        with pytest.raises(json.JSONDecodeError):
            await openai_text(fp)
        fp.script(CLAUDE, [StreamFault.malformed(5)])
        with pytest.raises(json.JSONDecodeError):
            await claude_text(fp)
    assert fp.count("malformed") == 2


async def test_every_model_gives_the_same_answer_to_the_same_prompt() -> None:
    async with FakeProvider() as fp:
        a, _ = await openai_text(fp, model="gpt-4o")
        b, _ = await openai_text(fp, model="gpt-4o-mini")
        c = await claude_text(fp)
    assert a == b == c != ""


async def test_an_anthropic_prefill_gets_exactly_the_rest_of_the_answer() -> None:
    async with FakeProvider() as fp:
        whole = await claude_text(fp)
        for cut in (5, 11, len(whole) // 2):  # inside a word and between words
            head = whole[:cut].rstrip()
            rest = await claude_text(fp, [*USER, {"role": "assistant", "content": head}])
            assert head + rest == whole


async def test_anthropic_refuses_a_prefill_with_trailing_whitespace_or_on_a_model_without_it() -> (
    None
):
    async with FakeProvider(unsupported={"claude-opus-4-6": {"continue"}}) as fp:
        with pytest.raises(anthropic.BadRequestError, match="trailing whitespace"):
            await claude_text(fp, [*USER, {"role": "assistant", "content": "The "}])
        with pytest.raises(anthropic.BadRequestError, match="does not support assistant message"):
            await claude_text(
                fp, [*USER, {"role": "assistant", "content": "The"}], model="claude-opus-4-6"
            )


async def test_continue_final_message_continues_and_a_plain_assistant_turn_starts_anew() -> None:
    async with FakeProvider() as fp:
        whole, _ = await openai_text(fp)
        head = whole[: len(whole) // 2]
        partial = [*USER, {"role": "assistant", "content": head}]
        flags = {"continue_final_message": True, "add_generation_prompt": False}
        rest, finish = await openai_text(fp, partial, extra_body=flags)
        fresh, _ = await openai_text(fp, partial)  # what OpenAI itself does with it
        with pytest.raises(openai.BadRequestError, match="add_generation_prompt"):
            await openai_text(fp, partial, extra_body={"continue_final_message": True})
    assert head + rest == whole and finish == "stop"
    assert not (head + fresh).startswith(whole)
