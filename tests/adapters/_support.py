"""Helpers for the adapter tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from resilience import Event, FakeClock
from resilience.telemetry import Telemetry

T = TypeVar("T")

MESSAGES = [{"role": "user", "content": "Say something about resilience."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
ANTHROPIC_TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    }
]


@dataclass
class Otel:
    exporter: InMemorySpanExporter
    telemetry: Telemetry

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def attempts(self) -> list[ReadableSpan]:
        spans = [s for s in self.spans() if s.name.startswith("attempt")]
        return sorted(spans, key=lambda s: s.start_time or 0)

    def buckets(self) -> list[str | None]:
        """The failure bucket of each attempt span, in order (None: success)."""
        out: list[str | None] = []
        for span in self.attempts():
            value = (span.attributes or {}).get("resilience.failure.bucket")
            out.append(str(value) if value is not None else None)
        return out


def make_otel() -> Otel:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return Otel(exporter, Telemetry(tracer_provider=provider))


async def drive(clock: FakeClock, aw: Awaitable[T], *, max_jump: float = 120.0) -> T:
    """Await ``aw`` while moving the fake clock to its next timer whenever
    the work is blocked on time (a backoff, a limiter wait). Timers further
    than ``max_jump`` away (a guard's hold timeout) are never jumped to."""
    task: asyncio.Future[T] = asyncio.ensure_future(aw)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.005)
            if task.done():
                break
            nxt = clock.next_deadline()
            if nxt is not None and nxt - clock.monotonic() <= max_jump:
                await clock.advance(max(0.0, nxt - clock.monotonic()))
    finally:
        if not task.done():
            task.cancel()
    return task.result()


async def gather_driven(clock: FakeClock, aws: Iterable[Awaitable[Any]]) -> list[Any]:
    async def together() -> list[Any]:
        return await asyncio.gather(*aws)

    return await drive(clock, together())


def of_type(events: list[Event], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]
