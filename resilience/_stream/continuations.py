"""Which targets can continue a partial answer, and how.

Providers differ: Anthropic's Messages API continues a final assistant
message (a prefill) on most models, but Claude 4.6 and later refuse it ("This
model does not support assistant message prefill"); OpenAI-compatible servers
such as vLLM, SGLang and TGI continue it when asked with
``continue_final_message=True, add_generation_prompt=False``; OpenAI's own
chat completions have no way at all (a final assistant message is context,
and the model answers anew: the caller would get the text twice).

:class:`Continuations` starts from that documentation, takes your entries for
what it cannot know (a vLLM server you named ``"local"``), and learns: a
target that refuses a continuation is not asked again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from resilience._core.errors import ConfigError

__all__ = ["CONTINUE_FINAL_MESSAGE", "MECHANISMS", "PREFILL", "Continuations"]

PREFILL = "prefill"
"""A final assistant message the model continues (Anthropic Messages API)."""
CONTINUE_FINAL_MESSAGE = "continue_final_message"
"""The same, asked for with vLLM's extra body fields (OpenAI-compatible servers)."""
MECHANISMS = frozenset({PREFILL, CONTINUE_FINAL_MESSAGE})

# Providers whose OpenAI-compatible servers document continue_final_message
# (LiteLLM calls a vLLM deployment "hosted_vllm").
_CONTINUE_SERVERS = frozenset({"vllm", "hosted_vllm", "sglang", "tgi"})
# Providers that serve Claude models over the Messages API.
_CLAUDE_HOSTS = frozenset({"anthropic", "bedrock", "vertex_ai", "vertex"})
# "claude-sonnet-4-5-20250929", "claude-opus-4-6", "claude-sonnet-5", "anthropic.claude-..."
_NEW_NAME = re.compile(r"claude-[a-z]+-(\d{1,2})(?:-(\d))?(?!\d)")
# "claude-3-5-sonnet-20241022", "claude-3-opus-20240229"
_OLD_NAME = re.compile(r"claude-(\d)(?:-(\d))?-[a-z]")
# Claude 4.6 removed prefill, and every later model keeps it removed.
_NO_PREFILL_FROM = (4, 6)


def _claude_version(model: str) -> tuple[int, int] | None:
    for pattern in (_OLD_NAME, _NEW_NAME):
        found = pattern.search(model)
        if found:
            return int(found.group(1)), int(found.group(2) or 0)
    return None


def documented(provider: str, model: str) -> str | None:
    """The mechanism the providers' documentation promises, or None."""
    if provider in _CONTINUE_SERVERS:
        return CONTINUE_FINAL_MESSAGE
    if provider == "anthropic" or (provider in _CLAUDE_HOSTS and "claude" in model):
        version = _claude_version(model)
        if version is not None and version >= _NO_PREFILL_FROM:
            return None
        return PREFILL
    return None


def _check(key: object, mechanism: object) -> None:
    if not isinstance(key, str) or not key:
        raise ConfigError("continuations", key, '"provider" or "provider/model" keys')
    if mechanism is not None and mechanism not in MECHANISMS:
        raise ConfigError(
            f"continuations[{key!r}]", mechanism, f"one of {sorted(MECHANISMS)} or None"
        )


class Continuations:
    """How each target continues a partial answer: ``"prefill"``,
    ``"continue_final_message"``, or None (it cannot).

    ``entries`` map ``"provider"`` or ``"provider/model"`` to a mechanism (or
    None to forbid it) and win over the documented defaults; a refusal seen at
    run time (:meth:`refused`) wins over both, until :meth:`forget`.
    """

    def __init__(self, entries: Mapping[str, str | None] | None = None) -> None:
        if entries is not None and not isinstance(entries, Mapping):
            raise ConfigError("continuations", entries, "a mapping of target to mechanism")
        self._entries: dict[str, str | None] = {}
        for key, mechanism in (entries or {}).items():
            self.set(key, mechanism)
        self._refused: dict[str, set[str]] = {}

    def set(self, key: str, mechanism: str | None) -> None:
        """Say how ``key`` (``"provider"`` or ``"provider/model"``) continues."""
        _check(key, mechanism)
        self._entries[key] = mechanism

    def mechanism(self, target: str) -> str | None:
        """How ``target`` (``"provider/model"``) can continue, or None."""
        provider, _, model = target.partition("/")
        if target in self._entries:
            found = self._entries[target]
        elif provider in self._entries:
            found = self._entries[provider]
        else:
            found = documented(provider, model)
        if found is not None and found in self._refused.get(target, ()):
            return None
        return found

    def refused(self, target: str, mechanism: str) -> None:
        """``target`` refused a ``mechanism`` continuation: do not ask it again."""
        self._refused.setdefault(target, set()).add(mechanism)

    def refusals(self, target: str) -> frozenset[str]:
        return frozenset(self._refused.get(target, ()))

    def forget(self, target: str | None = None) -> None:
        """Drop the refusals learned for ``target`` (every target when None)."""
        if target is None:
            self._refused.clear()
        else:
            self._refused.pop(target, None)

    def __repr__(self) -> str:
        return f"Continuations({self._entries!r}, refused={sorted(self._refused)})"
