"""The context-window table: spellings, user entries, bad config."""

from __future__ import annotations

import pytest

from resilience._core.errors import ConfigError
from resilience._fallback import BUILTIN_CONTEXT_WINDOWS, ContextWindows


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("gpt-4o", 128_000),
        ("openai/gpt-4o", 128_000),
        ("gpt-4o-2024-08-06", 128_000),
        ("openai/gpt-4o-mini-2024-07-18", 128_000),
        ("gpt-4-0613", 8_192),
        ("gpt-4.1-mini-2025-04-14", 1_047_576),
        ("anthropic/claude-3-5-sonnet-20241022", 200_000),
        ("claude-3-5-sonnet-latest", 200_000),
        ("claude-3-5-sonnet@20240620", 200_000),
        ("bedrock/us.anthropic.claude-3-5-sonnet-20240620-v1:0", 200_000),
        ("gemini/gemini-1.5-pro-002", 2_097_152),
        ("gemini-2.5-pro-preview-05-06", 1_048_576),
        ("mistral/mistral-large-latest", 128_000),
        ("mistral-large-2411", 128_000),
        ("litellm/openai/gpt-4o", 128_000),
        ("GPT-4o", 128_000),
    ],
)
def test_builtin_lookup_tolerates_providers_and_dated_suffixes(name: str, tokens: int) -> None:
    assert ContextWindows().get(name) == tokens


def test_a_model_never_borrows_the_window_of_its_prefix() -> None:
    """gpt-4o-mini is not gpt-4o, and an unknown model is unknown."""
    windows = ContextWindows({"gpt-4o": 999})
    assert windows.get("gpt-4o-mini") == 128_000
    assert windows.get("gpt-4o-minimal") is None
    assert windows.get("my-model") is None
    assert "my-model" not in windows


def test_user_entries_win_and_provider_specific_entries_win_over_bare() -> None:
    windows = ContextWindows({"gpt-4o": 64_000, "A/gpt-4o": 32_000})
    assert windows.get("gpt-4o-2024-08-06") == 64_000
    assert windows.get("A/gpt-4o") == 32_000
    assert windows.get("B/gpt-4o") == 64_000
    windows["B/custom"] = 10
    windows.update({"C/custom": 20})
    assert windows["B/custom"] == 10
    assert windows["C/custom"] == 20


def test_builtin_entries_can_be_turned_off() -> None:
    windows = ContextWindows({"x": 1}, builtin=False)
    assert windows.get("gpt-4o") is None
    assert windows.get("x") == 1
    with pytest.raises(KeyError):
        windows["gpt-4o"]


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "128k", None])
def test_bad_sizes_are_config_errors_naming_the_model(bad: object) -> None:
    with pytest.raises(ConfigError) as info:
        ContextWindows({"m": bad})  # type: ignore[dict-item]
    assert "'m'" in str(info.value)


def test_bad_names_and_containers_are_config_errors() -> None:
    with pytest.raises(ConfigError):
        ContextWindows({"": 10})
    with pytest.raises(ConfigError):
        ContextWindows([("m", 10)])  # type: ignore[arg-type]


def test_odd_lookups_return_none_instead_of_raising() -> None:
    windows = ContextWindows()
    assert windows.get("") is None
    assert windows.get(None) is None  # type: ignore[arg-type]
    assert windows.get("///") is None


def test_every_builtin_entry_is_a_positive_int() -> None:
    assert all(isinstance(v, int) and v > 0 for v in BUILTIN_CONTEXT_WINDOWS.values())
