"""Streams in the pipeline: first-chunk and chunk timeouts on a fake clock,
breaks classified, and resume on a toy wire format (letters, ``.`` ends)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from resilience import (
    Call,
    CircuitBreaker,
    ConfigError,
    Event,
    FakeClock,
    Fallback,
    Pipeline,
    ProviderError,
    Retry,
    StreamEnded,
    StreamInterrupted,
    StreamMalformed,
    StreamResumed,
    StreamStarted,
)
from tests.stream._support import ANSWER, CALL, TOY, Broken, LetterWire, Toy, Wired, read


async def test_a_stream_that_breaks_is_continued_on_the_same_target_exactly_once() -> None:
    toy = Toy({"toy/small": [7, None]})
    events: list[Event] = []
    pipeline = Pipeline(resume="continue", continuations=TOY, hooks=[events.append])
    stream = await pipeline.run(toy, CALL)
    assert await read(stream) == ANSWER
    assert toy.sent == [("toy/small", None), ("toy/small", "Calm se")]
    assert stream.resumes == 1 and stream.text == ANSWER
    resumed = [e for e in events if isinstance(e, StreamResumed)]
    assert [(e.from_target, e.to_target, e.mechanism, e.attempt) for e in resumed] == [
        ("toy/small", "toy/small", "prefill", 0)
    ]
    ends = [(e.attempt, e.chunks, e.error is None) for e in events if isinstance(e, StreamEnded)]
    # <start> and 7 letters from the broken attempt, <start> and the other 18
    # from the continuation; the caller got one <start> and every letter once.
    assert ends == [(0, 8, False), (1, 19, True), (None, len(ANSWER) + 1, True)]


async def test_whitespace_left_out_of_a_prefill_is_not_delivered_twice() -> None:
    toy = Toy({"toy/small": [5, None]})  # breaks after "Calm " (trailing space)
    stream = await Pipeline(resume="continue", continuations=TOY).run(toy, CALL)
    assert await read(stream) == ANSWER
    assert toy.sent[1] == ("toy/small", "Calm")


async def test_nothing_said_yet_means_even_a_target_without_continuation_starts_again() -> None:
    toy = Toy({"openai/gpt-4o": [0, None]})  # OpenAI cannot continue, but need not
    call = Call("openai", "gpt-4o", features=frozenset({"stream"}))
    assert await read(await Pipeline(resume="continue").run(toy, call)) == ANSWER
    assert toy.sent == [("openai/gpt-4o", None), ("openai/gpt-4o", None)]


async def test_a_target_that_breaks_the_stream_twice_gives_way_to_the_fallback() -> None:
    """The same target continues first after a transient break; once it has
    broken this call's stream twice, the fallback continues it."""
    toy = Toy({"toy/small": [7, 3, None], "toy/big": [None]})
    pipeline = Pipeline(Fallback(["toy/big"]), resume="continue", continuations=TOY)
    stream = await pipeline.run(toy, CALL)
    assert await read(stream) == ANSWER
    assert [t for t, _ in toy.sent] == ["toy/small", "toy/small", "toy/big"]
    assert stream.resumes == 2


async def test_a_refused_prefill_is_learnt_and_the_next_target_continues() -> None:
    toy = Toy({"toy/small": [4, "refuse", 3, "refuse"], "toy/big": [None, None]})
    pipeline = Pipeline(Fallback(["toy/big"]), resume="continue", continuations=TOY)
    assert await read(await pipeline.run(toy, CALL)) == ANSWER
    assert [t for t, _ in toy.sent] == ["toy/small", "toy/small", "toy/big"]
    assert pipeline.continuations.mechanism("toy/small") is None
    # Learnt: the next break goes straight to the target that can continue.
    assert await read(await pipeline.run(toy, CALL)) == ANSWER
    assert [t for t, _ in toy.sent[3:]] == ["toy/small", "toy/big"]


async def test_with_no_capable_target_the_caller_gets_the_original_break_and_partial_text() -> None:
    toy = Toy({"toy/small": [9, "refuse"]})
    stream = await Pipeline(resume="continue", continuations=TOY).run(toy, CALL)
    got: list[str] = []
    with pytest.raises(StreamInterrupted) as info:
        async for chunk in stream:
            got.append(chunk)
    error = info.value
    assert error.partial == ANSWER[:9] == "".join(got[1:])
    assert error.failure.kind == "overloaded" and error.failure.status == 503  # not the 400
    assert [target for target, _ in error.errors] == ["toy/small"]
    assert ANSWER[:9] not in str(error) and ANSWER[:9] not in repr(error)
    assert isinstance(error.__cause__, ProviderError)
    assert isinstance(error.__cause__.__cause__, Broken)


async def test_without_resume_a_break_is_interrupted_with_its_partial_text() -> None:
    toy = Toy({"toy/small": [6]})
    stream = await Pipeline(continuations=TOY).run(toy, CALL)
    with pytest.raises(StreamInterrupted) as info:
        await read(stream)
    assert info.value.partial == ANSWER[:6] and info.value.errors == ()
    assert len(toy.sent) == 1


async def test_a_stream_that_carried_a_tool_call_is_not_continued() -> None:
    class WithTool(Toy):
        async def _gen(self, text: str, breaks_after: int | None) -> AsyncIterator[str]:
            yield "<tool>"
            raise Broken("reset")

    toy = WithTool({"toy/small": [None]})
    stream = await Pipeline(resume="continue", continuations=TOY).run(toy, CALL)
    with pytest.raises(StreamInterrupted):
        await read(stream)
    assert len(toy.sent) == 1


async def test_resumes_stop_after_three_continuations() -> None:
    toy = Toy({"toy/small": [2, 2, 2, 2, None]})
    stream = await Pipeline(resume="continue", continuations=TOY).run(toy, CALL)
    with pytest.raises(StreamInterrupted) as info:
        await read(stream)
    assert len(toy.sent) == 4 and info.value.partial == ANSWER[:8]


async def test_a_resume_never_starts_past_the_calls_deadline(clock: FakeClock) -> None:
    toy = Toy({"toy/small": [3, None]})

    async def slow(call: Call) -> Wired:
        await clock.sleep(4)
        return await toy(call)

    pipeline = Pipeline(resume="continue", continuations=TOY, clock=clock)
    stream = await asyncio.wait_for(
        _advance_while(clock, pipeline.run(slow, CALL.replace(timeout=5))), 5
    )
    with pytest.raises(StreamInterrupted) as info:
        await _advance_while(clock, read(stream))
    # The continuation's attempt started at 4 s and was cut at the 5 s deadline.
    assert len(toy.sent) == 1 and clock.monotonic() <= 6
    assert [type(e).__name__ for _, e in info.value.errors] == ["DeadlineExceeded"]
    assert info.value.failure.kind == "overloaded"  # still the break, not the deadline


async def test_no_continuation_is_tried_once_the_deadline_has_passed(clock: FakeClock) -> None:
    toy = Toy({"toy/small": [3, None]})
    pipeline = Pipeline(resume="continue", continuations=TOY, clock=clock)
    stream = await pipeline.run(toy, CALL.replace(timeout=5))
    await clock.advance(6)
    with pytest.raises(StreamInterrupted) as info:
        await read(stream)
    assert len(toy.sent) == 1 and info.value.errors == ()


async def _advance_while(clock: FakeClock, aw: Any) -> Any:
    task = asyncio.ensure_future(aw)
    while not task.done():
        await clock.advance(1)
    return task.result()


async def test_a_malformed_event_is_a_classified_break_never_a_json_error() -> None:
    events: list[Event] = []

    async def handler(call: Call) -> Any:
        async def gen() -> AsyncIterator[str]:
            yield "a"
            json.loads("{not json")
            yield "never"

        return gen()

    stream = await Pipeline(hooks=[events.append]).run(handler, CALL)
    with pytest.raises(StreamInterrupted) as info:
        await read(stream)
    assert info.value.failure.kind == "server" and info.value.failure.code == "malformed_event"
    assert info.value.partial is None  # no wire format: the library cannot read the text
    assert [e.attempt for e in events if isinstance(e, StreamMalformed)] == [0]


async def test_an_empty_stream_is_truncated_when_its_format_is_known_and_empty_otherwise(
    clock: FakeClock,
) -> None:
    """Before the commit point: an empty stream of a known wire format is a
    retryable truncation (the retry gets the answer); one of unknown format
    is an empty answer, not a StopAsyncIteration out of run()."""
    toy = Toy({"toy/small": [None]})
    tries: list[int] = []

    async def handler(call: Call) -> Any:
        tries.append(len(tries))
        if len(tries) == 1:

            async def empty() -> AsyncIterator[str]:
                return
                yield  # an async generator that ends at once

            return Wired(empty(), toy.wire)
        return await toy(call)

    stream = await _advance_while(clock, Pipeline(Retry(2), clock=clock).run(handler, CALL))
    assert await read(stream) == ANSWER and tries == [0, 1]

    async def unknown(call: Call) -> Any:
        async def empty() -> AsyncIterator[str]:
            return
            yield

        return empty()

    assert [c async for c in await Pipeline().run(unknown, CALL)] == []


async def test_a_stream_ending_before_its_final_event_is_truncated_not_a_success() -> None:
    async def handler(call: Call) -> Wired:
        async def gen() -> AsyncIterator[str]:
            for letter in "Calm":
                yield letter

        return Wired(gen(), LetterWire())

    with pytest.raises(StreamInterrupted) as info:
        await read(await Pipeline().run(handler, CALL))
    assert info.value.failure.code == "stream_truncated" and info.value.failure.trips_breaker


async def test_a_transport_error_after_the_final_event_ends_the_stream_cleanly() -> None:
    async def handler(call: Call) -> Wired:
        async def gen() -> AsyncIterator[str]:
            yield "Done."
            raise Broken("reset before [DONE]")

        return Wired(gen(), LetterWire())

    assert await read(await Pipeline().run(handler, CALL)) == "Done."


async def test_a_stalled_stream_is_cut_by_chunk_timeout_and_counted_by_the_breaker(
    clock: FakeClock,
) -> None:
    never = asyncio.Event()

    async def handler(call: Call) -> Any:
        async def gen() -> AsyncIterator[str]:
            yield "a"
            await never.wait()
            yield "b"

        return gen()

    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    stream = await Pipeline(breaker, chunk_timeout=10, clock=clock).run(handler, CALL)
    assert await stream.__anext__() == "a"
    nxt = asyncio.ensure_future(stream.__anext__())
    await clock.advance(9.9)
    assert not nxt.done()
    await clock.advance(0.1)
    with pytest.raises(StreamInterrupted) as info:
        await nxt
    assert info.value.failure.kind == "timeout" and info.value.failure.code == "chunk_timeout"
    assert breaker.state(CALL.target) == "open"


async def test_a_silent_first_chunk_is_a_retryable_timeout_inside_the_attempt(
    clock: FakeClock,
) -> None:
    never = asyncio.Event()
    calls: list[int] = []

    async def handler(call: Call) -> Any:
        calls.append(1)

        async def gen() -> AsyncIterator[str]:
            if len(calls) == 1:
                await never.wait()
            yield "a"

        return gen()

    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    pipeline = Pipeline(
        Fallback(["toy/big"]), Retry(1), breaker, first_chunk_timeout=3, clock=clock
    )
    task = asyncio.ensure_future(pipeline.run(handler, CALL))
    await clock.advance(3)
    stream = await task
    assert stream.call.target == "toy/big"  # moved before commit, within 3 s
    assert await stream.__anext__() == "a"
    assert breaker.state(CALL.target) == "open"


async def test_first_chunk_timeout_counts_the_wait_for_the_response_too(
    clock: FakeClock,
) -> None:
    async def handler(call: Call) -> Any:
        await clock.sleep(60)  # no headers yet

        async def gen() -> AsyncIterator[str]:
            yield "a"

        return gen()

    task = asyncio.ensure_future(Pipeline(first_chunk_timeout=2, clock=clock).run(handler, CALL))
    await clock.advance(2)
    with pytest.raises(ProviderError) as info:
        await task
    assert info.value.failure.code == "first_chunk_timeout" and info.value.failure.retryable


async def test_stream_events_tell_the_commit_point_and_each_end() -> None:
    events: list[Event] = []
    toy = Toy({"toy/small": [None]})
    stream = await Pipeline(hooks=[events.append]).run(toy, CALL)
    started = [e.attempt for e in events if isinstance(e, StreamStarted)]
    assert started == [0] and not any(isinstance(e, StreamEnded) for e in events)
    await read(stream)
    assert [(e.attempt, e.chunks) for e in events if isinstance(e, StreamEnded)] == [
        (0, len(ANSWER) + 1),
        (None, len(ANSWER) + 1),
    ]


def test_stream_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="resume"):
        Pipeline(resume="retry")
    with pytest.raises(ConfigError, match="chunk_timeout"):
        Pipeline(chunk_timeout=0)
    with pytest.raises(ConfigError, match="continuations"):
        Pipeline(continuations={"toy": "magic"})
    assert Pipeline(first_chunk_timeout=5).first_chunk_timeout == 5.0


async def test_a_resumed_break_still_counts_against_the_breaker_and_frees_its_slot(
    clock: FakeClock,
) -> None:
    from resilience import Limit, RateLimiter

    toy = Toy({"toy/small": [4, None]})
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    limiter = RateLimiter({"toy": Limit(concurrency=1)}, clock=clock)
    pipeline = Pipeline(
        Fallback(["toy/big"]), breaker, limiter, resume="continue", continuations=TOY, clock=clock
    )
    toy.plans["toy/big"] = [None]
    stream = await pipeline.run(toy, CALL)
    # One slot: the continuation could only be admitted once the broken stream gave its back.
    assert await asyncio.wait_for(read(stream), 5) == ANSWER
    assert breaker.state("toy/small") == "open"  # the break counted...
    assert [t for t, _ in toy.sent] == ["toy/small", "toy/big"]  # ...so the resume moved on
