"""What ``resilience simulate`` sends: providers, agent tasks, and the real SDK calls.

The workload is agent-shaped: each task is a short chain of calls to one
primary provider, with mixed prompt sizes, some calls offering a tool, some
asking for JSON, some streamed. Everything is drawn from one seeded generator,
so a seed always gives the same tasks. The text is synthetic filler; nothing a
user wrote is involved.

The calls go out through the real ``openai`` and ``anthropic`` SDKs, over
``httpx`` clients whose event hooks count what each logical call put on the
wire (requests and their statuses), so retries made inside an SDK are
counted from what was sent, not guessed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from resilience._core.call import Call

__all__ = [
    "DEFAULT_PROVIDERS",
    "ProviderSpec",
    "Step",
    "Task",
    "Trace",
    "Workload",
    "anthropic_params",
    "estimate",
    "openai_params",
]


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One fake provider: its wire format, model, limits, pace and troubles.

    ``outage`` is ``(start, end, status)`` as shares of the run's duration.
    ``unsupported``: features the model answers with a 400 (to show degrading).
    ``share``: how often a task picks this provider as its primary.
    """

    name: str
    style: str  # "openai" or "anthropic"
    model: str
    rpm: int
    tpm: int
    latency: float
    share: float
    outage: tuple[float, float, int] | None = None
    unsupported: frozenset[str] = frozenset()

    @property
    def target(self) -> str:
        return f"{self.name}/{self.model}"


DEFAULT_PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "openai", "openai", "gpt-4o-mini", rpm=600, tpm=1_000_000, latency=0.25, share=0.65,
        outage=(0.3, 0.6, 503),
    ),
    ProviderSpec(
        "anthropic", "anthropic", "claude-haiku-4-5", rpm=300, tpm=400_000, latency=0.3,
        share=0.35,
    ),
    # A small OpenAI-compatible backup that never is anybody's first choice.
    ProviderSpec(
        "groq", "openai", "llama-3.1-8b-instant", rpm=120, tpm=150_000, latency=0.15, share=0.0,
        unsupported=frozenset({"json"}),
    ),
)  # fmt: skip

_WORDS = (
    "plan", "step", "file", "test", "patch", "review", "context", "summary", "error", "log",
    "query", "result", "agent", "tool", "index", "search", "module", "function", "value",
    "schema", "report", "draft", "note", "input", "output", "change", "issue", "trace",
)  # fmt: skip

# (share, tokens): most agent prompts are short, a few carry a whole file.
_SIZES = ((0.6, 300), (0.3, 1_200), (0.1, 4_000))
_MAX_OUTPUT = 256

_TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
    "required": ["query"],
}
_JSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"action": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["action", "confidence"],
}


@dataclass(frozen=True, slots=True)
class Step:
    """One call of a task. ``prompt`` is filler text of about ``tokens`` tokens."""

    prompt: str = field(repr=False)
    tokens: int
    features: frozenset[str]
    think: float = 0.0  # seconds the agent works (runs a tool) before its next call


@dataclass(frozen=True, slots=True)
class Task:
    provider: ProviderSpec
    steps: tuple[Step, ...]


class Trace:
    """What one logical call put on the wire, filled by the httpx hooks."""

    __slots__ = ("sends", "statuses")

    def __init__(self) -> None:
        self.sends = 0
        self.statuses: list[int] = []


CURRENT_TRACE: ContextVar[Trace | None] = ContextVar("resilience_simulate_trace", default=None)


async def on_request(request: Any) -> None:
    trace = CURRENT_TRACE.get()
    if trace is not None:
        trace.sends += 1


async def on_response(response: Any) -> None:
    trace = CURRENT_TRACE.get()
    if trace is not None:
        trace.statuses.append(int(response.status_code))


class Workload:
    """An endless, seeded supply of agent tasks."""

    def __init__(self, providers: tuple[ProviderSpec, ...], seed: int) -> None:
        self._rng = random.Random(seed)
        self._primaries = [p for p in providers if p.share > 0]
        if not self._primaries:
            raise ValueError("at least one provider needs share > 0")
        self._weights = [p.share for p in self._primaries]
        self._texts: dict[int, str] = {}

    def _text(self, tokens: int, salt: int) -> str:
        # One filler text per size, made different per call by a short prefix,
        # so building a task costs next to nothing.
        base = self._texts.get(tokens)
        if base is None:
            rng = random.Random(tokens)
            words: list[str] = []
            chars = 0
            while chars < tokens * 4:
                w = rng.choice(_WORDS)
                words.append(w)
                chars += len(w) + 1
            base = self._texts[tokens] = " ".join(words)
        return f"[{salt}] {base}"

    def task(self) -> Task:
        rng = self._rng
        provider = rng.choices(self._primaries, self._weights)[0]
        steps = []
        for _ in range(rng.randint(2, 5)):
            r = rng.random()
            tokens = _SIZES[-1][1]
            for share, size in _SIZES:
                if r < share:
                    tokens = size
                    break
                r -= share
            feats: set[str] = set()
            kind = rng.random()
            if kind < 0.25:
                feats.add("tools")
            elif kind < 0.40:
                feats.add("json")
            if rng.random() < 0.2:
                feats.add("stream")
            text = self._text(tokens, rng.getrandbits(32))
            steps.append(Step(text, tokens, frozenset(feats), rng.uniform(0.05, 0.3)))
        return Task(provider, tuple(steps))


def estimate(step: Step) -> int:
    """The input-token estimate for the limiter: about four characters a token,
    the same rule the fake provider charges by (plus the tool definition)."""
    chars = len(step.prompt) + 40
    if "tools" in step.features:
        chars += 200
    return chars // 4 + 1


def call_for(task: Task, step: Step, timeout: float) -> Call:
    return Call(
        provider=task.provider.name,
        model=task.provider.model,
        input_tokens=estimate(step),
        max_output_tokens=_MAX_OUTPUT,
        features=step.features,
        timeout=timeout,
        payload=step,
    )


def openai_params(step: Step, model: str, features: frozenset[str]) -> dict[str, Any]:
    """Chat-completions parameters for ``step``, with only ``features`` on."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": _MAX_OUTPUT,
        "messages": [
            {"role": "system", "content": "You are a coding agent."},
            {"role": "user", "content": step.prompt},
        ],
    }
    if "tools" in features:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": "search_code",
                    "description": "Search the repository",
                    "parameters": _TOOL_SCHEMA,
                },
            }
        ]
    if "json" in features:
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "next_action", "schema": _JSON_SCHEMA},
        }
    if "stream" in features:
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
    return params


def anthropic_params(step: Step, model: str, features: frozenset[str]) -> dict[str, Any]:
    """Messages parameters for ``step``, with only ``features`` on."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": _MAX_OUTPUT,
        "system": "You are a coding agent.",
        "messages": [{"role": "user", "content": step.prompt}],
    }
    if "tools" in features:
        params["tools"] = [
            {
                "name": "search_code",
                "description": "Search the repository",
                "input_schema": _TOOL_SCHEMA,
            }
        ]
    if "json" in features:
        params["output_config"] = {"format": {"type": "json_schema", "schema": _JSON_SCHEMA}}
    if "stream" in features:
        params["stream"] = True
    return params


def usage_from_chunk(chunk: Any) -> Mapping[str, int] | None:
    """Usage carried by a streamed chunk or event, in ``report()``'s shape."""
    usage = getattr(chunk, "usage", None)
    if usage is None:
        message = getattr(chunk, "message", None)
        usage = getattr(message, "usage", None)
    if usage is None:
        return None
    inp = getattr(usage, "prompt_tokens", None) or getattr(usage, "input_tokens", None)
    out = getattr(usage, "completion_tokens", None) or getattr(usage, "output_tokens", None)
    found = {}
    if isinstance(inp, int):
        found["input_tokens"] = inp
    if isinstance(out, int):
        found["output_tokens"] = out
    return found or None
