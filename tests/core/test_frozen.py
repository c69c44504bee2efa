"""fast_init keeps the dataclass contract of Call and the events."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from resilience._core.call import Call
from resilience._core.events import AttemptEnded, BreakerStateChange, CallEnded, Event
from resilience._core.frozen import fast_init


def test_call_keeps_signature_defaults_factory_and_validation() -> None:
    params = inspect.signature(Call).parameters
    assert list(params) == [f.name for f in dataclasses.fields(Call)]
    call = Call("openai", "gpt-4o", features=["json"])  # type: ignore[arg-type]
    assert call.operation == "chat" and call.timeout is None
    assert call.features == frozenset({"json"})  # __post_init__ still normalises
    assert dict(call.metadata) == {}
    with pytest.raises(Exception, match="provider"):
        Call("", "gpt-4o")


def test_call_stays_frozen_equal_hashable_and_replaceable() -> None:
    call = Call("openai", "gpt-4o", input_tokens=3)
    assert call == Call("openai", "gpt-4o", input_tokens=3)
    assert hash(call) == hash(Call("openai", "gpt-4o", input_tokens=3))
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.model = "other"  # type: ignore[misc]
    moved = dataclasses.replace(call, model="gpt-4o-mini")
    assert (moved.model, moved.input_tokens) == ("gpt-4o-mini", 3)


def test_events_keep_keyword_only_fields_inherited_slots_and_immutability() -> None:
    call = Call("openai", "gpt-4o")
    event = CallEnded(call=call, call_id=7, duration=0.5)
    assert [f.name for f in dataclasses.fields(event)][:4] == ["call", "call_id", "attempt", "time"]
    assert (event.call_id, event.attempt, event.time, event.error) == (7, None, 0.0, None)
    assert event == CallEnded(call=call, call_id=7, duration=0.5)
    assert isinstance(event, Event)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.duration = 1.0  # type: ignore[misc]
    assert dataclasses.replace(event, duration=2.0).duration == 2.0
    with pytest.raises(TypeError):
        AttemptEnded(call, duration=1.0)  # type: ignore[misc]  # keyword-only
    with pytest.raises(TypeError, match="key"):
        BreakerStateChange(call=None, old="closed", new="open")  # type: ignore[call-arg]


def test_fast_init_calls_default_factory_per_instance() -> None:
    @fast_init
    @dataclasses.dataclass(frozen=True, slots=True)
    class Box:
        items: list[int] = dataclasses.field(default_factory=list)

    a, b = Box(), Box()
    assert a.items == [] and a.items is not b.items
    assert Box([1]).items == [1]
