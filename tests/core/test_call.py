"""Call validates at the edge and never shows its payload."""

from __future__ import annotations

import pytest

from resilience import Call, ConfigError


def test_defaults_and_derived_keys() -> None:
    c = Call("anthropic", "claude-sonnet-4", input_tokens=100, max_output_tokens=50)
    assert c.operation == "chat"
    assert c.target == "anthropic/claude-sonnet-4"
    assert c.tokens == 150
    assert c.features == frozenset()


def test_features_become_a_frozenset_and_can_be_removed() -> None:
    c = Call("openai", "gpt-4o", features=["tools", "json"])  # type: ignore[arg-type]
    assert c.features == frozenset({"tools", "json"})
    assert c.without("tools").features == frozenset({"json"})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("provider", ""),
        ("model", None),
        ("input_tokens", -1),
        ("max_output_tokens", 1.5),
        ("timeout", 0),
        ("timeout", float("inf")),
        ("features", "tools"),
    ],
)
def test_bad_fields_name_the_field_and_value(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"provider": "openai", "model": "gpt-4o", field: value}
    with pytest.raises(ConfigError) as info:
        Call(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field
    assert field in str(info.value)


def test_repr_hides_payload_and_metadata() -> None:
    c = Call("openai", "gpt-4o", payload={"messages": "SECRET PROMPT"}, metadata={"k": "sk-x"})
    assert "SECRET" not in repr(c)
    assert "sk-x" not in repr(c)


def test_a_call_pickles_for_worker_processes() -> None:
    import pickle

    c = Call("openai", "gpt-4o", features=frozenset({"tools"}), timeout=5.0)
    assert pickle.loads(pickle.dumps(c)) == c
