"""Fallback: each failure kind's path, feature degradation (remembered), the
context-size filter, the one deadline, and the real openai SDK against
FakeProvider."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import openai
import pytest

from resilience import (
    Call,
    CircuitOpenError,
    ConfigError,
    DeadlineExceeded,
    Degraded,
    Event,
    Failure,
    FakeClock,
    FallbackExhausted,
    FallbackHop,
    Pipeline,
    ProviderError,
)
from resilience._breaker import CircuitBreaker
from resilience._fallback import ContextWindows, Fallback
from resilience._retry import Retry
from resilience.testing import FakeProvider

CALL = Call(provider="A", model="big-a")


def err(kind: str, call: Call, **kw: Any) -> ProviderError:
    return ProviderError(Failure.of(kind, **kw), call=call)


class Targets:
    """A handler whose answer depends on the target: a kind name to fail
    with, a callable taking the call, or anything else to return."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.table = table
        self.seen: list[Call] = []

    async def __call__(self, call: Call) -> Any:
        self.seen.append(call)
        outcome = self.table.get(call.target, "ok")
        if callable(outcome):
            outcome = outcome(call)
            if isinstance(outcome, BaseException):
                raise outcome
        elif outcome != "ok":
            raise err(outcome, call, status=500 if outcome == "server" else 400)
        return f"{outcome} from {call.target}"


def of_type(events: list[Event], kind: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


async def test_an_outage_moves_to_the_next_target_with_a_hop_event() -> None:
    events: list[Event] = []
    handler = Targets({"A/big-a": "server"})
    p = Pipeline(Fallback(["B/big-b"]), hooks=[events.append])
    assert await p.run(handler, CALL) == "ok from B/big-b"
    assert [c.target for c in handler.seen] == ["A/big-a", "B/big-b"]
    (hop,) = of_type(events, FallbackHop)
    assert (hop.from_target, hop.to_target, hop.reason) == ("A/big-a", "B/big-b", "server")
    assert hop.failure is not None and hop.failure.status == 500


@pytest.mark.parametrize("kind", ["rate_limit", "quota", "auth", "billing", "not_found"])
async def test_every_failover_kind_moves_on(kind: str) -> None:
    handler = Targets({"A/big-a": kind})
    assert await Pipeline(Fallback(["B/big-b"])).run(handler, CALL) == "ok from B/big-b"


@pytest.mark.parametrize("kind", ["bad_request", "content_filter"])
async def test_the_callers_own_errors_are_raised_as_is(kind: str) -> None:
    events: list[Event] = []
    handler = Targets({"A/big-a": kind})
    with pytest.raises(ProviderError) as info:
        await Pipeline(Fallback(["B/big-b"]), hooks=[events.append]).run(handler, CALL)
    assert not isinstance(info.value, FallbackExhausted)
    assert info.value.failure.kind == kind
    assert [c.target for c in handler.seen] == ["A/big-a"]
    assert of_type(events, FallbackHop) == []


async def test_bugs_in_the_handler_are_not_failed_over() -> None:
    handler = Targets({"A/big-a": lambda call: KeyError("bug")})
    with pytest.raises(KeyError):
        await Pipeline(Fallback(["B/big-b"])).run(handler, CALL)
    assert len(handler.seen) == 1


async def test_exhaustion_carries_every_targets_error_and_the_last_as_cause() -> None:
    handler = Targets({"A/big-a": "server", "B/big-b": "rate_limit", "C/big-c": "server"})
    with pytest.raises(FallbackExhausted) as info:
        await Pipeline(Fallback(["B/big-b", "C/big-c"])).run(handler, CALL)
    errors = info.value.errors
    assert [t for t, _ in errors] == ["A/big-a", "B/big-b", "C/big-c"]
    assert [e.failure.kind for _, e in errors] == ["server", "rate_limit", "server"]  # type: ignore[attr-defined]
    assert info.value.__cause__ is errors[-1][1]
    assert info.value.call == CALL


async def test_an_open_breaker_moves_on_without_a_request(clock: FakeClock) -> None:
    events: list[Event] = []
    breaker = CircuitBreaker(failure_threshold=1, clock=clock)
    handler = Targets({"A/big-a": "server"})
    p = Pipeline(Fallback(["B/big-b"]), breaker, clock=clock, hooks=[events.append])
    assert await p.run(handler, CALL) == "ok from B/big-b"
    assert await p.run(handler, CALL) == "ok from B/big-b"
    assert [c.target for c in handler.seen] == ["A/big-a", "B/big-b", "B/big-b"]
    hops = of_type(events, FallbackHop)
    assert [h.reason for h in hops] == ["server", "circuit_open"]
    assert hops[1].failure is None


async def test_exhaustion_reports_circuit_open_errors_too(clock: FakeClock) -> None:
    breaker = CircuitBreaker(failure_threshold=1, per_model=False, clock=clock)
    handler = Targets({"A/big-a": "server", "B/big-b": "server"})
    p = Pipeline(Fallback(["B/big-b"]), breaker, clock=clock)
    with pytest.raises(FallbackExhausted):
        await p.run(handler, CALL)
    with pytest.raises(FallbackExhausted) as info:
        await p.run(handler, CALL)
    assert all(isinstance(e, CircuitOpenError) for _, e in info.value.errors)
    assert len(handler.seen) == 2


async def test_context_length_tries_only_larger_windows() -> None:
    windows = ContextWindows({"A/small": 8_000, "B/same": 8_000, "D/large": 200_000})
    handler = Targets({"A/small": "context_length"})
    fb = Fallback(["B/same", "C/unsized", "D/large"], context_windows=windows)
    call = Call(provider="A", model="small", input_tokens=9_000)
    assert await Pipeline(fb).run(handler, call) == "ok from D/large"
    assert [c.target for c in handler.seen] == ["A/small", "D/large"]


async def test_context_length_uses_builtin_windows_for_known_models() -> None:
    handler = Targets({"openai/gpt-4o": "context_length"})
    fb = Fallback(["openai/gpt-4o-mini-2024-07-18", "openai/gpt-4.1-2025-04-14"])
    result = await Pipeline(fb).run(handler, Call(provider="openai", model="gpt-4o"))
    assert result == "ok from openai/gpt-4.1-2025-04-14"
    assert len(handler.seen) == 2


async def test_context_length_on_an_unknown_model_skips_targets_known_too_small() -> None:
    windows = {"B/tiny": 1_000, "C/mid": 50_000}
    handler = Targets({"A/mystery": "context_length"})
    fb = Fallback(["B/tiny", "C/mid"], context_windows=windows)
    call = Call(provider="A", model="mystery", input_tokens=20_000, max_output_tokens=1_000)
    assert await Pipeline(fb).run(handler, call) == "ok from C/mid"
    assert [c.target for c in handler.seen] == ["A/mystery", "C/mid"]


async def test_context_length_with_nothing_larger_is_exhaustion() -> None:
    handler = Targets({"A/small": "context_length"})
    fb = Fallback(["B/same"], context_windows={"A/small": 8_000, "B/same": 8_000})
    with pytest.raises(FallbackExhausted) as info:
        await Pipeline(fb).run(handler, Call(provider="A", model="small"))
    assert [t for t, _ in info.value.errors] == ["A/small"]


def unsupported(feature: str) -> Callable[[Call], Any]:
    def answer(call: Call) -> Any:
        if feature in call.features:
            return err("unsupported_feature", call, status=400, feature=feature)
        return f"ok without {feature}"

    return answer


async def test_unsupported_feature_retries_the_same_target_without_it_and_remembers() -> None:
    events: list[Event] = []
    fb = Fallback(["B/big-b"])
    handler = Targets({"A/big-a": unsupported("tools")})
    p = Pipeline(fb, hooks=[events.append])
    call = CALL.replace(features=frozenset({"tools", "stream"}))
    assert await p.run(handler, call) == "ok without tools from A/big-a"
    assert [sorted(c.features) for c in handler.seen] == [["stream", "tools"], ["stream"]]
    assert fb.unsupported("A/big-a") == {"tools"}
    (degraded,) = of_type(events, Degraded)
    assert (degraded.target, degraded.feature) == ("A/big-a", "tools")
    assert "tools" not in degraded.call.features

    # The next call drops the feature up front: one request, still announced.
    events.clear()
    handler.seen.clear()
    assert await p.run(handler, call) == "ok without tools from A/big-a"
    assert [sorted(c.features) for c in handler.seen] == [["stream"]]
    assert [(e.target, e.feature) for e in of_type(events, Degraded)] == [("A/big-a", "tools")]
    assert of_type(events, FallbackHop) == []

    fb.forget("A/big-a")
    assert fb.unsupported("A/big-a") == frozenset()


async def test_degradation_is_per_model_and_the_next_target_keeps_its_features() -> None:
    def still_broken(call: Call) -> Any:
        if "json" in call.features:
            return err("unsupported_feature", call, status=400, feature="json")
        return err("server", call, status=500)

    handler = Targets({"A/big-a": still_broken})
    call = CALL.replace(features=frozenset({"json"}))
    assert await Pipeline(Fallback(["B/big-b"])).run(handler, call) == "ok from B/big-b"
    assert [(c.target, sorted(c.features)) for c in handler.seen] == [
        ("A/big-a", ["json"]),
        ("A/big-a", []),
        ("B/big-b", ["json"]),
    ]


async def test_unsupported_feature_without_degrade_moves_on() -> None:
    handler = Targets({"A/big-a": unsupported("tools")})
    fb = Fallback(["B/big-b"], degrade=False)
    call = CALL.replace(features=frozenset({"tools"}))
    assert await Pipeline(fb).run(handler, call) == "ok from B/big-b"
    assert fb.unsupported("A/big-a") == frozenset()


async def test_an_unnamed_unsupported_feature_moves_on() -> None:
    handler = Targets({"A/big-a": lambda call: err("unsupported_feature", call, status=400)})
    call = CALL.replace(features=frozenset({"tools"}))
    assert await Pipeline(Fallback(["B/big-b"])).run(handler, call) == "ok from B/big-b"


async def test_callable_targets_map_the_call_and_none_skips() -> None:
    def same_model_elsewhere(call: Call) -> Call:
        return call.replace(provider="azure")

    def skip(call: Call) -> None:
        return None

    handler = Targets({"A/big-a": "server"})
    fb = Fallback([skip, same_model_elsewhere])
    assert await Pipeline(fb).run(handler, CALL) == "ok from azure/big-a"


async def test_a_callable_returning_garbage_is_a_config_error() -> None:
    handler = Targets({"A/big-a": "server"})
    with pytest.raises(ConfigError):
        await Pipeline(Fallback([lambda call: "B/big-b"])).run(handler, CALL)  # type: ignore[list-item,return-value]


async def test_a_target_already_tried_is_not_tried_again() -> None:
    handler = Targets({"A/big-a": "server"})
    with pytest.raises(FallbackExhausted):
        await Pipeline(Fallback(["A/big-a"])).run(handler, CALL)
    assert len(handler.seen) == 1


async def test_no_hop_is_started_once_the_deadline_has_passed(clock: FakeClock) -> None:
    """The deadline passed but its timer has not run yet (a busy loop): the
    failure arrives with no time left, and B is not tried."""

    async def slow_failure(call: Call) -> str:
        if call.provider == "A":
            clock._now += 10.0  # time passes without timers firing
            raise err("server", call, status=500)
        return "ok"

    p = Pipeline(Fallback(["B/big-b"]), clock=clock)
    with pytest.raises(FallbackExhausted) as info:
        await p.run(slow_failure, CALL.replace(timeout=10.0))
    assert [t for t, _ in info.value.errors] == ["A/big-a"]


async def test_one_deadline_covers_retries_and_hops(clock: FakeClock) -> None:
    """A asks for a 30 s wait with 20 s left: Retry gives up at once and
    Fallback uses the time on B; B hangs, and the deadline ends the call."""
    seen: list[tuple[str, float]] = []

    async def handler(call: Call) -> str:
        seen.append((call.provider, clock.monotonic()))
        if call.provider == "A":
            raise err("rate_limit", call, status=429, retry_after=30.0)
        await clock.sleep(100.0)
        return "late"

    p = Pipeline(Fallback(["B/big-b"]), Retry(3, budget=None), clock=clock)
    task = asyncio.create_task(p.run(handler, CALL.replace(timeout=20.0)))
    await clock.advance(25.0)
    with pytest.raises(DeadlineExceeded):
        await task
    assert seen == [("A", 0.0), ("B", 0.0)]
    assert clock.pending() == 0


async def test_works_without_a_pipeline() -> None:
    handler = Targets({"A/big-a": "server"})
    assert await Fallback(["B/big-b"])(CALL, handler) == "ok from B/big-b"


@pytest.mark.parametrize(
    ("field", "targets", "kwargs"),
    [
        ("targets", "B/big-b", {}),
        ("targets[0]", ["no-slash"], {}),
        ("targets[1]", ["B/x", "/x"], {}),
        ("targets[0]", [42], {}),
        ("context_windows", [], {"context_windows": 42}),
        ("context_windows['m']", [], {"context_windows": {"m": -1}}),
    ],
)
def test_bad_settings_are_config_errors(field: str, targets: Any, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as info:
        Fallback(targets, **kwargs)
    assert info.value.field == field


# -- the real openai SDK against two fake providers ---------------------------------

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


class Clients:
    """The application's handler: dispatches on call.provider, passes the
    call's features to the SDK."""

    def __init__(self, providers: dict[str, FakeProvider]) -> None:
        self.clients = {
            name: openai.AsyncOpenAI(base_url=fp.base_url + "/v1", api_key="sk-test", max_retries=0)
            for name, fp in providers.items()
        }

    async def __call__(self, call: Call) -> Any:
        kwargs: dict[str, Any] = {}
        if "tools" in call.features:
            kwargs["tools"] = TOOLS
        if "json" in call.features:
            kwargs["response_format"] = {"type": "json_object"}
        if call.max_output_tokens:
            kwargs["max_tokens"] = call.max_output_tokens
        prompt = "hello " * max(1, call.input_tokens)
        return await self.clients[call.provider].chat.completions.create(
            model=call.model, messages=[{"role": "user", "content": prompt}], **kwargs
        )

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.close()


@pytest.fixture
async def two() -> AsyncIterator[tuple[FakeProvider, FakeProvider, Clients]]:
    async with (
        FakeProvider(unsupported={"no-tools": {"tools"}}, context_window={"small": 200}) as a,
        FakeProvider(context_window={"large": 100_000}) as b,
    ):
        clients = Clients({"A": a, "B": b})
        try:
            yield a, b, clients
        finally:
            await clients.aclose()


async def test_sdk_outage_fails_over_and_the_breaker_stops_requests_to_a(
    two: tuple[FakeProvider, FakeProvider, Clients],
) -> None:
    a, b, handler = two
    a.set_outage(503)
    events: list[Event] = []
    breaker = CircuitBreaker(failure_threshold=3, reset_timeout=60.0)
    # No Retry here: the outage's retry-after of 1 s would be a real sleep.
    p = Pipeline(Fallback(["B/gpt-4o"]), breaker)
    p.subscribe(events.append)
    call = Call(provider="A", model="gpt-4o")
    for _ in range(10):
        result = await p.run(handler, call)
        assert result.choices[0].message.content
    assert a.count(503) == 3  # the breaker's threshold, then nothing
    assert b.count(200) == 10
    assert [h.reason for h in of_type(events, FallbackHop)][-1] == "circuit_open"


async def test_sdk_unsupported_tools_degrade_once_then_up_front(
    two: tuple[FakeProvider, FakeProvider, Clients],
) -> None:
    a, _, handler = two
    events: list[Event] = []
    p = Pipeline(Fallback(["B/gpt-4o"]), Retry(2), CircuitBreaker(), hooks=[events.append])
    call = Call(provider="A", model="no-tools", features=frozenset({"tools"}))
    first = await p.run(handler, call)
    second = await p.run(handler, call)
    assert first.choices[0].message.content and second.choices[0].message.content
    assert [(r.model, r.status) for r in a.requests] == [
        ("no-tools", 400),
        ("no-tools", 200),
        ("no-tools", 200),
    ]
    assert [(e.target, e.feature) for e in of_type(events, Degraded)] == [
        ("A/no-tools", "tools"),
        ("A/no-tools", "tools"),
    ]


async def test_sdk_context_length_skips_to_a_larger_model(
    two: tuple[FakeProvider, FakeProvider, Clients],
) -> None:
    a, b, handler = two
    windows = {"A/small": 200, "A/gpt-4o-mini": 150, "B/large": 100_000}
    p = Pipeline(Fallback(["A/gpt-4o-mini", "B/large"], context_windows=windows), Retry(2))
    result = await p.run(handler, Call(provider="A", model="small", input_tokens=400))
    assert result.choices[0].message.content
    assert [(r.model, r.status) for r in a.requests] == [("small", 400)]
    assert [(r.model, r.status) for r in b.requests] == [("large", 200)]


async def test_sdk_bad_request_is_not_failed_over(
    two: tuple[FakeProvider, FakeProvider, Clients],
) -> None:
    a, b, handler = two
    a.script("gpt-4o", [400])
    p = Pipeline(Fallback(["B/gpt-4o"]), Retry(3), CircuitBreaker())
    with pytest.raises(ProviderError) as info:
        await p.run(handler, Call(provider="A", model="gpt-4o"))
    assert info.value.failure.kind == "bad_request"
    assert isinstance(info.value.__cause__, openai.BadRequestError)
    assert len(a.requests) == 1 and len(b.requests) == 0
