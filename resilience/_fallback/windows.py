"""How many tokens each model can take: the table behind the context-size
fallback.

Names arrive in many spellings: ``gpt-4o``, ``gpt-4o-2024-08-06``,
``openai/gpt-4o``, ``claude-3-5-sonnet-20241022``, ``gemini-1.5-pro-002``,
``anthropic.claude-3-5-sonnet-20240620-v1:0``. A lookup tries the name as
given, then without leading ``provider/`` segments, then with version and
date suffixes peeled off one at a time. It never matches on a bare prefix:
``gpt-4o-mini`` must not borrow the window of ``gpt-4o``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from resilience._core.errors import ConfigError

__all__ = ["BUILTIN_CONTEXT_WINDOWS", "ContextWindows"]

# Input context windows in tokens, as the providers document them. Where a
# model has a larger opt-in beta window, the default one is listed: a
# fallback decision must hold without special headers.
BUILTIN_CONTEXT_WINDOWS: Mapping[str, int] = {
    # OpenAI
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.1-mini": 1_047_576,
    "gpt-4.1-nano": 1_047_576,
    "gpt-5": 400_000,
    "gpt-5-mini": 400_000,
    "gpt-5-nano": 400_000,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    # Anthropic
    "claude-3-haiku": 200_000,
    "claude-3-sonnet": 200_000,
    "claude-3-opus": 200_000,
    "claude-3-5-haiku": 200_000,
    "claude-3-5-sonnet": 200_000,
    "claude-3-7-sonnet": 200_000,
    "claude-sonnet-4": 200_000,
    "claude-opus-4": 200_000,
    "claude-opus-4-1": 200_000,
    "claude-sonnet-4-5": 200_000,
    "claude-haiku-4-5": 200_000,
    # Google Gemini
    "gemini-1.5-flash": 1_048_576,
    "gemini-1.5-flash-8b": 1_048_576,
    "gemini-1.5-pro": 2_097_152,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.0-flash-lite": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
    "gemini-2.5-flash-lite": 1_048_576,
    "gemini-2.5-pro": 1_048_576,
    # Mistral
    "mistral-large": 128_000,
    "mistral-medium": 128_000,
    "mistral-small": 128_000,
    "ministral-3b": 128_000,
    "ministral-8b": 128_000,
    "open-mistral-nemo": 128_000,
    "codestral": 256_000,
    "pixtral-large": 128_000,
    "open-mixtral-8x7b": 32_000,
    "open-mixtral-8x22b": 64_000,
}

# Suffixes that name a snapshot of a model rather than another model. Each
# pattern removes one suffix; lookups peel them one after another, so
# "gemini-2.5-pro-preview-05-06" becomes "gemini-2.5-pro-preview", then
# "gemini-2.5-pro".
_SUFFIXES = (
    re.compile(r"-v\d+(?::\d+)?$"),  # Bedrock: -v1:0, -v2
    re.compile(r":\d+$"),  # Bedrock throughput suffix
    re.compile(r"[-@]\d{4}-\d{2}-\d{2}$"),  # OpenAI: -2024-08-06
    re.compile(r"[-@]\d{8}$"),  # Anthropic: -20241022, Vertex @20240620
    re.compile(r"-\d{2}-\d{2}$"),  # Gemini previews: -05-06
    re.compile(r"-\d{4}$"),  # OpenAI: -0613, -0125; Mistral: -2411
    re.compile(r"-\d{3}$"),  # Gemini: -001, -002
    re.compile(r"-(?:latest|preview|exp)$"),
)
# Bedrock prefixes model ids with the vendor ("anthropic.claude-...") and
# sometimes a region ("us.anthropic.claude-...").
_VENDOR = re.compile(r"^(?:[a-z]{2}\.)?(?:anthropic|mistral|meta|amazon|cohere|ai21)\.")


def _spellings(name: str) -> Iterator[str]:
    """Candidate keys for ``name``, most specific first."""
    seen: set[str] = set()
    parts = name.split("/")
    for i in range(len(parts)):
        base = "/".join(parts[i:])
        stem = base
        while True:
            for candidate in (stem, _VENDOR.sub("", stem)):
                if candidate and candidate not in seen:
                    seen.add(candidate)
                    yield candidate
            for pattern in _SUFFIXES:
                shorter = pattern.sub("", stem)
                if shorter != stem and shorter:
                    stem = shorter
                    break
            else:
                break


def _check(name: object, tokens: object) -> tuple[str, int]:
    if not isinstance(name, str) or not name:
        raise ConfigError("context_windows", name, "model names as non-empty strings")
    if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
        raise ConfigError(f"context_windows[{name!r}]", tokens, "an int number of tokens > 0")
    return name.lower(), tokens


class ContextWindows:
    """Context window sizes by model, with built-in entries for well-known
    OpenAI, Anthropic, Gemini and Mistral models.

    Keys are ``"provider/model"`` or bare model names; your entries win over
    the built-in ones, and a ``provider/model`` entry wins over a bare one::

        windows = ContextWindows({"A/my-finetune": 32_000, "big-model": 1_000_000})
        windows.get("openai/gpt-4o-2024-08-06")  # 128000
    """

    __slots__ = ("_builtin", "_entries")

    def __init__(self, entries: Mapping[str, int] | None = None, *, builtin: bool = True) -> None:
        self._builtin: Mapping[str, int] = BUILTIN_CONTEXT_WINDOWS if builtin else {}
        self._entries: dict[str, int] = {}
        if entries is not None:
            if not isinstance(entries, Mapping):
                raise ConfigError("context_windows", entries, "a mapping of model name to tokens")
            self.update(entries)

    def update(self, entries: Mapping[str, int]) -> None:
        """Add or replace entries."""
        for name, tokens in entries.items():
            key, value = _check(name, tokens)
            self._entries[key] = value

    def __setitem__(self, name: str, tokens: int) -> None:
        key, value = _check(name, tokens)
        self._entries[key] = value

    def get(self, name: str) -> int | None:
        """The window of ``name`` (any spelling above), or None when unknown."""
        if not isinstance(name, str) or not name:
            return None
        spellings = list(_spellings(name.lower()))
        for table in (self._entries, self._builtin):
            for candidate in spellings:
                tokens = table.get(candidate)
                if tokens is not None:
                    return tokens
        return None

    def __getitem__(self, name: str) -> int:
        tokens = self.get(name)
        if tokens is None:
            raise KeyError(name)
        return tokens

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __repr__(self) -> str:
        return f"ContextWindows({len(self._entries)} own entries, builtin={bool(self._builtin)})"
