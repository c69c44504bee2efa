"""Streams that break mid-way: what the caller ends up with, side by side.

Two fake providers speak the OpenAI wire format (``resilience.testing.FakeProvider``,
paced: the first content chunk after 50 ms, then 100 tokens a second; every
answer is 12 content chunks between the role chunk and the finish chunk).
Both answer like a vLLM server, so they accept ``continue_final_message``.
200 streamed chat calls go to the primary, 20 at a time. A seeded 25 % of them break on the
primary's first answer, after 2 to 12 of its events (so some text has
already reached the caller):

- 10 % ``cut``: the connection drops mid-body;
- 5 % ``stall``: the connection stays open and silent;
- 5 % ``truncate``: the body ends cleanly but without the finish chunk and
  ``[DONE]``;
- 5 % ``malformed``: one event whose JSON breaks off, then the rest.

The primary answers any later request for that call normally; the backup is
always healthy. Each call asks for its own model name (``bench-0042``) only
so that the fault is scripted for exactly that call: every contender gets
the same faults on the same calls whatever order its requests arrive in.
Every model gives the same text to the same prompt, so each contender's
answers are checked against the text of its own unbroken warm-up stream.

Every contender gets a fresh pair of providers, one after another in one
process, and the same 2 s window for a silent stream:

- ``resilience``: the openai adapter around ``AsyncOpenAI(max_retries=0)``
  with ``provider="vllm"`` and the backup's client in ``clients=``, and
  ``Pipeline(Fallback(["backup/..."]), Retry(), CircuitBreaker(),
  first_chunk_timeout=2, chunk_timeout=2, resume="continue")`` (the backup
  named as a ``continue_final_message`` server in ``continuations=``).
  The breaker keys on the target, so with a model name per call it never
  opens here: this measures each stream's recovery, not outage routing
  (that is ``benchmarks/outage.py``).
- ``resilience-no-resume``: the same without ``resume``.
- ``openai-sdk``: ``AsyncOpenAI`` with its default ``max_retries=2`` and
  ``timeout=httpx.Timeout(60, read=2)``.
- ``litellm-router``: ``Router`` with a ``bench-*`` deployment on the primary
  and a ``backup`` one, ``fallbacks=[{"*": ["backup"]}]``, ``num_retries=2``,
  ``stream_timeout=2`` on both (LiteLLM hands it to httpx, read included),
  ``router.acompletion(..., stream=True)``.
- ``langchain-fallbacks``: ``ChatOpenAI(timeout=httpx.Timeout(60, read=2))
  .with_fallbacks([backup ChatOpenAI])`` (SDK retries at their default),
  ``astream`` with the call's model name passed through.

Each call ends as exactly one of:

- ``complete``: the stream ended without an error and the text is the whole
  answer, once;
- ``truncated_success``: it ended without an error but the text is shorter
  than the answer or differs from it (silent data loss, the worst outcome);
- ``duplicated``: it ended without an error with more text than the answer
  (some of it twice, or text that is not the answer's);
- ``clean_error``: an exception of the caller's documented error family
  (``resilience.ResilienceError``, or ``openai.APIError``, which LangChain's
  ChatOpenAI raises and LiteLLM's exceptions subclass); ``resilience_errors``
  counts the ``ResilienceError`` ones and ``with_partial`` those that carry
  the text received so far (``StreamInterrupted.partial``);
- ``raw_error``: any other exception (``httpx.ReadTimeout``,
  ``json.JSONDecodeError``...), or a call still running when the run is cut
  short.

Also per contender: requests both providers received (after the warm-up),
p50/p99 time from the call to the end of its stream (every call, however it
ended), and the wall seconds of the run. The JSON line adds the exception
types per contender, requests per provider and the fault schedule.

    python -m benchmarks.streams [--quick]

Quick mode: 40 calls, 10 at a time, a 0.5 s window for silence, faster pacing.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import random
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai

from benchmarks._common import emit, ms, percentile
from resilience import CircuitBreaker, Fallback, Pipeline, ResilienceError, Retry
from resilience.testing import FakeProvider, StreamFault

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

PROMPT = "Say hello."
MESSAGES: list[Any] = [{"role": "user", "content": PROMPT}]
BACKUP_MODEL = "bench-backup"
SEED = 11
# Share of calls whose first answer breaks, by how it breaks.
FAULT_SHARES: dict[Callable[[int], StreamFault], float] = {
    StreamFault.cut: 0.10,
    StreamFault.stall: 0.05,
    StreamFault.truncate: 0.05,
    StreamFault.malformed: 0.05,
}
# A fault lands after this many events, so that the role chunk and at least
# one content chunk went out and the last content chunk did not.
AFTER = (2, 12)
OUTCOMES = ("complete", "truncated_success", "duplicated", "clean_error", "raw_error")


@dataclass(frozen=True)
class Plan:
    calls: int
    concurrency: int
    silence: float  # chunk_timeout for us, the read timeout for the peers
    ttft: float
    tokens_per_second: float
    give_up: float  # seconds after which a contender's run is cut short


FULL = Plan(calls=200, concurrency=20, silence=2.0, ttft=0.05, tokens_per_second=100, give_up=60)
QUICK = Plan(calls=40, concurrency=10, silence=0.5, ttft=0.02, tokens_per_second=400, give_up=20)


def schedule(n: int) -> list[StreamFault | None]:
    """Which calls break and how: fixed counts, seeded positions."""
    rng = random.Random(SEED)
    faults: list[StreamFault | None] = []
    for fault, share in FAULT_SHARES.items():
        faults += [fault(rng.randint(*AFTER)) for _ in range(round(share * n))]
    faults += [None] * (n - len(faults))
    rng.shuffle(faults)
    return faults


def model_of(i: int) -> str:
    return f"bench-{i:04d}"


@dataclass
class Contender:
    name: str
    call: Callable[[str], Awaitable[str]]  # model -> the text the caller received
    close: Callable[[], Awaitable[None]] = field(default=lambda: _nothing())


async def _nothing() -> None:
    return None


class Received(Exception):
    """An exception from a stream, with the text that came before it."""

    def __init__(self, error: BaseException, text: str) -> None:
        super().__init__(str(error))
        self.error = error
        self.text = text


async def _close(stream: Any) -> None:
    # A stream left open after an error would keep its connection (and a
    # stalled provider handler) alive until the provider shuts down.
    for name in ("aclose", "close"):
        closer = getattr(stream, name, None)
        if closer is None:
            continue
        try:
            result = closer()
            if inspect.isawaitable(result):
                await result
        except Exception:
            pass
        return


async def _chat_text(stream: Any) -> str:
    """Iterate an OpenAI-shaped chunk stream (the SDK's, ours or LiteLLM's)."""
    parts: list[str] = []
    try:
        async for chunk in stream:
            if chunk.choices:
                parts.append(chunk.choices[0].delta.content or "")
    except Exception as exc:
        raise Received(exc, "".join(parts)) from exc
    finally:
        await _close(stream)
    return "".join(parts)


def _provider(plan: Plan) -> FakeProvider:
    return FakeProvider(ttft=plan.ttft, tokens_per_second=plan.tokens_per_second)


def _client(fp: FakeProvider, **options: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-bench", **options)


def _timeout(plan: Plan) -> httpx.Timeout:
    return httpx.Timeout(60.0, read=plan.silence)


def _ours(name: str, resume: str | None) -> Callable[[FakeProvider, FakeProvider, Plan], Contender]:
    def make(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
        from resilience.adapters.openai import resilient

        primary, backup = _client(a, max_retries=0), _client(b, max_retries=0)
        pipeline = Pipeline(
            Fallback([f"backup/{BACKUP_MODEL}"]),
            Retry(),
            CircuitBreaker(),
            first_chunk_timeout=plan.silence,
            chunk_timeout=plan.silence,
            resume=resume,
            continuations={"backup": "continue_final_message"},
        )
        client = resilient(primary, provider="vllm", clients={"backup": backup}, pipeline=pipeline)

        async def call(model: str) -> str:
            stream = await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True
            )
            return await _chat_text(stream)

        async def close() -> None:
            await primary.close()
            await backup.close()

        return Contender(name, call, close)

    return make


def openai_sdk(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
    client = _client(a, timeout=_timeout(plan))  # default max_retries=2

    async def call(model: str) -> str:
        stream = await client.chat.completions.create(model=model, messages=MESSAGES, stream=True)
        return await _chat_text(stream)

    return Contender("openai-sdk", call, client.close)


def litellm_router(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
    import litellm

    litellm.suppress_debug_info = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.CRITICAL)

    def deployment(name: str, model: str, fp: FakeProvider) -> dict[str, Any]:
        params = {
            "model": "openai/" + model,
            "api_base": fp.base_url + "/v1",
            "api_key": "sk-bench",
            "stream_timeout": plan.silence,
        }
        return {"model_name": name, "litellm_params": params}

    router = litellm.Router(
        model_list=[deployment("bench-*", "bench-*", a), deployment("backup", BACKUP_MODEL, b)],
        fallbacks=[{"*": ["backup"]}],
        num_retries=2,
    )

    async def call(model: str) -> str:
        stream = await router.acompletion(model=model, messages=MESSAGES, stream=True)
        return await _chat_text(stream)

    return Contender("litellm-router", call)


def langchain_fallbacks(a: FakeProvider, b: FakeProvider, plan: Plan) -> Contender:
    from langchain_openai import ChatOpenAI

    def chat(fp: FakeProvider, model: str) -> Any:
        return ChatOpenAI(
            model=model,
            base_url=fp.base_url + "/v1",
            api_key="sk-bench",  # type: ignore[arg-type]
            timeout=_timeout(plan),
        )

    chain = chat(a, "bench-default").with_fallbacks([chat(b, BACKUP_MODEL)])

    async def call(model: str) -> str:
        parts: list[str] = []
        try:
            async for chunk in chain.astream(PROMPT, model=model):
                parts.append(str(chunk.content))
        except Exception as exc:
            raise Received(exc, "".join(parts)) from exc
        return "".join(parts)

    return Contender("langchain-fallbacks", call)


CONTENDERS: dict[str, Callable[[FakeProvider, FakeProvider, Plan], Contender]] = {
    "resilience": _ours("resilience", "continue"),
    "resilience-no-resume": _ours("resilience-no-resume", None),
    "openai-sdk": openai_sdk,
    "litellm-router": litellm_router,
    "langchain-fallbacks": langchain_fallbacks,
}


def _type_name(exc: BaseException) -> str:
    module = type(exc).__module__.split(".")[0]
    return f"{module}.{type(exc).__name__}"


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    resilience_errors: int = 0
    with_partial: int = 0
    partial_mismatch: int = 0  # a partial that is not the text the caller iterated
    latencies: list[float] = field(default_factory=list)

    def ended(self, text: str, expected: str) -> None:
        if text == expected:
            self.outcomes["complete"] += 1
        elif len(text) > len(expected):
            self.outcomes["duplicated"] += 1
        else:
            self.outcomes["truncated_success"] += 1

    def failed(self, received: Received) -> None:
        exc = received.error
        self.errors[_type_name(exc)] += 1
        if isinstance(exc, ResilienceError | openai.APIError):
            self.outcomes["clean_error"] += 1
        else:
            self.outcomes["raw_error"] += 1
        if isinstance(exc, ResilienceError):
            self.resilience_errors += 1
        partial = getattr(exc, "partial", None)
        if isinstance(partial, str):
            self.with_partial += 1
            if partial != received.text:
                self.partial_mismatch += 1


async def _measure_one(
    make: Callable[[FakeProvider, FakeProvider, Plan], Contender],
    plan: Plan,
    faults: list[StreamFault | None],
) -> tuple[dict[str, Any], dict[str, Any]]:
    async with _provider(plan) as a, _provider(plan) as b:
        contender = make(a, b, plan)
        expected = await contender.call("bench-warm")  # imports, connections, the answer
        await contender.call("bench-warm")
        warm_a, warm_b = len(a.requests), len(b.requests)
        for i, fault in enumerate(faults):
            if fault is not None:
                a.script(model_of(i), [fault])
        tally = Tally()
        queue = iter(range(len(faults)))

        async def caller() -> None:
            for i in queue:
                started = time.perf_counter()
                try:
                    text = await contender.call(model_of(i))
                except Received as received:
                    tally.failed(received)
                except Exception as exc:  # raised before the stream began
                    tally.failed(Received(exc, ""))
                else:
                    tally.ended(text, expected)
                tally.latencies.append(time.perf_counter() - started)

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(caller()) for _ in range(plan.concurrency)]
        _, pending = await asyncio.wait(tasks, timeout=plan.give_up)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = time.perf_counter() - t0
        unfinished = len(faults) - sum(tally.outcomes.values())
        if unfinished:
            tally.outcomes["raw_error"] += unfinished
            tally.errors["unfinished"] += unfinished
        await contender.close()
        a_reqs, b_reqs = a.requests[warm_a:], b.requests[warm_b:]
    row = {
        "contender": contender.name,
        "calls": len(faults),
        **{k: tally.outcomes[k] for k in OUTCOMES},
        "requests": len(a_reqs) + len(b_reqs),
        "p50_ms": ms(percentile(tally.latencies, 0.5)),
        "p99_ms": ms(percentile(tally.latencies, 0.99)),
        "seconds": round(elapsed, 2),
        "resilience_errors": tally.resilience_errors,
        "with_partial": tally.with_partial,
    }
    details = {
        "errors": dict(tally.errors.most_common()),
        "primary_requests": dict(Counter(str(r.outcome) for r in a_reqs)),
        "backup_requests": len(b_reqs),
        "answer_chars": len(expected),
        "partial_mismatch": tally.partial_mismatch,
    }
    return row, details


async def measure(quick: bool = False) -> dict[str, Any]:
    plan = QUICK if quick else FULL
    faults = schedule(plan.calls)
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for make in CONTENDERS.values():
            row, detail = await _measure_one(make, plan, faults)
            rows.append(row)
            details[row["contender"]] = detail
    return emit(
        "streams",
        rows,
        details=details,
        plan={
            "calls": plan.calls,
            "concurrency": plan.concurrency,
            "silence_timeout_s": plan.silence,
            "ttft_s": plan.ttft,
            "tokens_per_second": plan.tokens_per_second,
            "faults": dict(Counter(f.kind for f in faults if f is not None)),
            "fault_after_events": list(AFTER),
            "seed": SEED,
        },
        quick=quick,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 calls, 0.5 s silence window")
    args = parser.parse_args()
    asyncio.run(measure(quick=args.quick))


if __name__ == "__main__":
    main()
