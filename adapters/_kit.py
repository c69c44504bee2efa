"""Pieces the host adapters share: the missing-host message, a rough token
estimate, the default pipeline, and the stream wrappers that keep an SDK
stream's API while the pipeline watches it.

Nothing here imports a host package.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any

from resilience import Call, ConfigError, Pipeline
from resilience.wire import WatchedStream, close_stream, set_usage

__all__ = [
    "ResilientClient",
    "ResilientStream",
    "WatchedStream",
    "continued_messages",
    "default_pipeline",
    "estimate_tokens",
    "missing_host",
    "parsed",
    "set_usage",
    "stream_settings",
]


def missing_host(package: str, extra: str) -> str:
    """The ImportError text for an adapter whose host is not installed."""
    return (
        f"resilience.adapters.{extra} needs the {package!r} package, which is not installed: "
        f"pip install 'llm-resilience[{extra}]'"
    )


def _chars(obj: Any, budget: int = 4_000_000) -> int:
    """Characters of text inside ``obj`` (strings in nested dicts, lists and
    pydantic-like models), stopping at ``budget`` so a huge payload costs
    bounded time."""
    total = 0
    stack: list[Any] = [obj]
    while stack and total < budget:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        else:
            content = getattr(item, "content", None)
            if content is not None and content is not item:
                stack.append(content)
            extra = getattr(item, "tool_calls", None)
            if isinstance(extra, list):
                stack.extend(extra)
    return total


def estimate_tokens(*parts: Any) -> int:
    """About four characters per token: good enough to reserve a token
    budget before the provider tells us the real count."""
    chars = sum(_chars(p) for p in parts if p is not None)
    return math.ceil(chars / 4)


def as_int(value: Any) -> int:
    """A non-negative int from a request field, else 0 (garbage is ignored)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return max(0, value)


def stream_settings(
    pipeline: Pipeline | None,
    first_chunk_timeout: float | None,
    chunk_timeout: float | None,
    resume: str | None,
) -> dict[str, Any]:
    """The stream settings an adapter was given, for the pipeline it builds;
    a pipeline passed in brings its own."""
    given = {
        "first_chunk_timeout": first_chunk_timeout,
        "chunk_timeout": chunk_timeout,
        "resume": resume,
    }
    given = {k: v for k, v in given.items() if v is not None}
    if pipeline is not None and given:
        raise ConfigError(
            next(iter(given)),
            next(iter(given.values())),
            "either pipeline= or first_chunk_timeout=/chunk_timeout=/resume=, not both "
            "(give them to that Pipeline)",
        )
    return given


def continued_messages(messages: Any, text: str) -> list[Any]:
    """``messages`` (chat format) ending with an assistant message that holds
    ``text``: appended to the caller's own final assistant message (a prefill
    of theirs) or added after the last one."""
    out = list(messages) if isinstance(messages, list | tuple) else []
    last = out[-1] if out else None
    if isinstance(last, Mapping) and last.get("role") == "assistant":
        content = last.get("content")
        if isinstance(content, str):
            out[-1] = {**last, "content": content + text}
            return out
        if isinstance(content, list):
            out[-1] = {**last, "content": [*content, {"type": "text", "text": text}]}
            return out
    out.append({"role": "assistant", "content": text})
    return out


def default_pipeline(
    fallbacks: Sequence[str] = (),
    *,
    hooks: Sequence[Any] = (),
    clock: Any = None,
    streams: Mapping[str, Any] | None = None,
) -> Pipeline:
    """Fallback (when targets are given), Retry, CircuitBreaker, adaptive
    RateLimiter: the order of the design's flow. ``streams``: the pipeline's
    stream settings (``first_chunk_timeout``, ``chunk_timeout``, ``resume``)."""
    from resilience import CircuitBreaker, RateLimiter, Retry

    middlewares: list[Any] = []
    if fallbacks:
        from resilience import Fallback

        middlewares.append(Fallback(list(fallbacks)))
    middlewares += [Retry(), CircuitBreaker(), RateLimiter()]
    return Pipeline(*middlewares, hooks=list(hooks), clock=clock, **dict(streams or {}))


class ResilientStream:
    """What the caller gets for a streamed call: iterate it, use it as an
    async context manager, ``close()`` it, read ``response`` — the API of the
    SDK's own ``AsyncStream``. It is not an instance of that class: the
    pipeline had to read the first chunk before handing the stream over, so
    a retry could still happen while nothing had reached the caller."""

    def __init__(self, stream: Any, call: Call) -> None:
        self._stream = stream
        self.call = call

    def __aiter__(self) -> ResilientStream:
        return self

    async def __anext__(self) -> Any:
        return await self._stream.__anext__()

    async def __aenter__(self) -> ResilientStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        closer = getattr(self._stream, "aclose", None)
        if closer is not None:
            await closer()
        else:
            await close_stream(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def __repr__(self) -> str:
        return f"ResilientStream({self.call.target})"


async def parsed(raw: Any) -> Any:
    """An SDK raw response's parsed body. openai's legacy raw response parses
    synchronously, anthropic 2.x's asynchronously; take either."""
    result = raw.parse()
    if inspect.isawaitable(result):
        result = await result
    return result


class ResilientClient:
    """What the SDK client wrappers share: the clients per provider (SDK
    retries off), the pipeline, ``with_options`` and attribute pass-through.

    A subclass names its default provider (``_PROVIDER``), the attribute that
    proves a client is its SDK's (``_REQUIRED``), how to describe it
    (``_EXPECTED``), how to switch the
    SDK's retries off (``_quiet``), and attaches its endpoints in ``_attach``.
    """

    _REQUIRED = ""
    _EXPECTED = ""
    _PROVIDER = ""

    def __init__(
        self,
        client: Any,
        *,
        pipeline: Pipeline | None = None,
        provider: str | None = None,
        clients: Mapping[str, Any] | None = None,
        fallbacks: Sequence[str] = (),
        timeout: float | None = None,
        first_chunk_timeout: float | None = None,
        chunk_timeout: float | None = None,
        resume: str | None = None,
    ) -> None:
        if provider is None:
            provider = self._PROVIDER
        if not isinstance(provider, str) or not provider:
            raise ConfigError("provider", provider, "a non-empty provider name")
        if pipeline is not None and fallbacks:
            raise ConfigError("fallbacks", fallbacks, "either pipeline= or fallbacks=, not both")
        all_clients = dict(clients or {})
        all_clients.setdefault(provider, client)
        for name, c in all_clients.items():
            if not hasattr(c, self._REQUIRED) or not hasattr(c, "with_options"):
                raise ConfigError(f"clients[{name!r}]", type(c).__name__, self._EXPECTED)
        self._client = client
        self._provider = provider
        self._clients = {name: self._quiet(c) for name, c in all_clients.items()}
        streams = stream_settings(pipeline, first_chunk_timeout, chunk_timeout, resume)
        self._pipeline = (
            pipeline if pipeline is not None else default_pipeline(fallbacks, streams=streams)
        )
        self._timeout = timeout
        self._attach()

    @staticmethod
    def _quiet(client: Any) -> Any:
        return client.with_options(max_retries=0)

    def _attach(self) -> None:
        """Set up the endpoints that run through the pipeline."""

    @property
    def pipeline(self) -> Pipeline:
        return self._pipeline

    def with_options(self, **options: Any) -> Any:
        """``client.with_options(...)`` applied to every wrapped client; the
        pipeline stays the same (``max_retries`` stays 0)."""
        options.pop("max_retries", None)
        other = {n: c.with_options(**options) for n, c in self._clients.items()}
        return type(self)(
            self._client.with_options(**options),
            pipeline=self._pipeline,
            provider=self._provider,
            clients=other,
            timeout=self._timeout,
        )

    def client_for(self, provider: str) -> Any:
        try:
            return self._clients[provider]
        except KeyError:
            raise ConfigError(
                "clients",
                provider,
                f"a client for every target provider (have {sorted(self._clients)})",
            ) from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("_client", "_owner"):
            raise AttributeError(name)  # not set up yet (copy, pickle): no recursion
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self._provider!r}, pipeline={self._pipeline!r})"
