"""The real SDK calls of ``resilience simulate``, and the fake providers they reach.

The pipeline side's handler sends with the SDK's retries off and tells the
pipeline what each attempt answered (headers, usage) through ``report()``;
the baseline side calls the SDK as most applications do, with its default
retries. Both count what reaches the wire through httpx event hooks.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from resilience._cli.simulate_workload import (
    ProviderSpec,
    Step,
    Task,
    anthropic_params,
    call_for,
    on_request,
    on_response,
    openai_params,
    usage_from_chunk,
)
from resilience._core.call import Call
from resilience._core.context import AttemptState, report
from resilience._core.pipeline import Pipeline
from resilience.wire import WatchedStream

if TYPE_CHECKING:
    from resilience._cli.simulate import SimulationConfig

__all__ = ["Sender", "baseline_sender", "fake_providers", "pipeline_sender", "sdk_client"]


def fake_providers(config: SimulationConfig) -> list[Any]:
    from resilience.testing import FakeProvider, Outage

    fps = []
    for i, p in enumerate(config.providers):
        outages = []
        if p.outage is not None:
            start, end, status = p.outage
            outages.append(Outage(start * config.duration, end * config.duration, status))
        fps.append(
            FakeProvider(
                rpm=p.rpm,
                tpm=p.tpm,
                profile="requesty-2026-04",
                failure_rate=config.failure_rate,
                seed=config.seed * 100 + i,
                latency=p.latency,
                outages=outages,
                unsupported={p.model: p.unsupported} if p.unsupported else None,
                models=[p.model],
            )
        )
    return fps


def sdk_client(spec: ProviderSpec, base_url: str, config: SimulationConfig, retries: int) -> Any:
    # Each SDK's own httpx flavour (anthropic's may differ from openai's), with
    # the hooks that count requests and statuses per logical call.
    hooks: dict[str, list[Callable[..., Any]]] = {
        "request": [on_request],
        "response": [on_response],
    }
    common: dict[str, Any] = {
        "api_key": f"sk-simulate-{spec.name}",
        "max_retries": retries,
        "timeout": config.call_timeout,
    }
    if spec.style == "anthropic":
        import anthropic

        if "open_telemetry" in inspect.signature(anthropic.AsyncAnthropic).parameters:
            # anthropic 2.x traces its own calls; keep Jaeger to the pipeline's spans.
            common["open_telemetry"] = False
        return anthropic.AsyncAnthropic(
            base_url=base_url,
            http_client=anthropic.DefaultAsyncHttpxClient(event_hooks=hooks),
            **common,
        )
    import openai

    return openai.AsyncOpenAI(
        base_url=base_url + "/v1",
        http_client=openai.DefaultAsyncHttpxClient(event_hooks=hooks),
        **common,
    )


def _on_chunk(chunk: Any, state: AttemptState | None) -> None:
    usage = usage_from_chunk(chunk)
    if state is not None and usage:
        state.usage = {**(state.usage or {}), **usage}


async def _parsed(raw: Any) -> Any:
    result = raw.parse()
    if inspect.isawaitable(result):
        result = await result
    return result


Sender = Callable[[Task, Step], Awaitable[None]]


def pipeline_sender(
    pipeline: Pipeline, clients: dict[str, Any], config: SimulationConfig
) -> Sender:
    specs = {p.name: p for p in config.providers}

    async def handler(call: Call) -> Any:
        step: Step = call.payload
        spec = specs[call.provider]
        client = clients[call.provider]
        if spec.style == "anthropic":
            params = anthropic_params(step, call.model, call.features)
            raw = await client.messages.with_raw_response.create(**params)
        else:
            params = openai_params(step, call.model, call.features)
            raw = await client.chat.completions.with_raw_response.create(**params)
        report(headers=raw.headers)
        result = await _parsed(raw)
        if params.get("stream"):
            return WatchedStream(result, _on_chunk)
        report(usage=usage_from_chunk(result), response_model=getattr(result, "model", None))
        return result

    chain = pipeline.wrap(handler)

    async def send(task: Task, step: Step) -> None:
        result = await chain(call_for(task, step, config.call_timeout))
        if "stream" in step.features and hasattr(result, "__anext__"):
            async for _ in result:
                pass

    return send


def baseline_sender(clients: dict[str, Any]) -> Sender:
    async def send(task: Task, step: Step) -> None:
        spec = task.provider
        client = clients[spec.name]
        if spec.style == "anthropic":
            result = await client.messages.create(
                **anthropic_params(step, spec.model, step.features)
            )
        else:
            result = await client.chat.completions.create(
                **openai_params(step, spec.model, step.features)
            )
        if "stream" in step.features:
            async for _ in result:
                pass

    return send
