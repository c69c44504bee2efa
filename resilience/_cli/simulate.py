"""``resilience simulate``: the same agent workload, without and with a pipeline.

Both sides get fresh fake providers with the same limits, the same seeded
failure mix (``requesty-2026-04``) and the same outage window, and the same
seeded tasks, sent by the same number of concurrent agents through the real
``openai`` and ``anthropic`` SDKs for the same time:

- ``baseline``: what most applications run today: the SDKs' own retries
  (``max_retries=2``), no limiter, no breaker, no fallback. Each task sticks
  to its provider.
- ``pipeline``: ``Fallback`` over every provider, ``Retry``, ``CircuitBreaker``
  and a ``RateLimiter`` configured with the providers' limits; the SDKs send
  with ``max_retries=0`` and report headers and usage via ``report()``.

Calls still running when the time is up get ``grace`` seconds to finish;
the rest are cancelled and counted as unfinished, not as failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from resilience._breaker import CircuitBreaker
from resilience._cli.simulate_report import Tally, summarize
from resilience._cli.simulate_sdk import (
    Sender,
    baseline_sender,
    fake_providers,
    pipeline_sender,
    sdk_client,
)
from resilience._cli.simulate_workload import (
    CURRENT_TRACE,
    DEFAULT_PROVIDERS,
    ProviderSpec,
    Step,
    Task,
    Trace,
    Workload,
)
from resilience._core.errors import ConfigError
from resilience._core.pipeline import Pipeline
from resilience._fallback import Fallback
from resilience._limiter import Limit, RateLimiter
from resilience._retry import Retry

__all__ = ["SimulationConfig", "build_pipeline", "simulate"]

Progress = Callable[[dict[str, Any]], None]
"""Called about four times a second with a snapshot of the running side."""

SIDES = ("baseline", "pipeline")


def _positive(field_name: str, value: object, *, integer: bool = False) -> None:
    ok = not isinstance(value, bool) and (
        isinstance(value, int) if integer else isinstance(value, int | float)
    )
    if not ok or not math.isfinite(value) or value <= 0:  # type: ignore[arg-type,operator]
        raise ConfigError(field_name, value, "an int > 0" if integer else "a number > 0")


@dataclass(frozen=True)
class SimulationConfig:
    """How long, how hard, how failure-prone. The defaults finish both sides
    in well under a minute on two cores."""

    duration: float = 20.0
    concurrency: int = 16
    seed: int = 7
    failure_rate: float = 0.04
    call_timeout: float = 10.0
    grace: float | None = None  # default: a fifth of the duration, at most 2 s
    otlp: str | None = None
    providers: tuple[ProviderSpec, ...] = field(default=DEFAULT_PROVIDERS)

    def __post_init__(self) -> None:
        _positive("duration", self.duration)
        _positive("concurrency", self.concurrency, integer=True)
        _positive("call_timeout", self.call_timeout)
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError("seed", self.seed, "an int")
        if not isinstance(self.failure_rate, int | float) or not 0 <= self.failure_rate <= 1:
            raise ConfigError("failure_rate", self.failure_rate, "a share between 0 and 1")
        if self.grace is not None and (
            isinstance(self.grace, bool)
            or not isinstance(self.grace, int | float)
            or self.grace < 0
        ):
            raise ConfigError("grace", self.grace, "seconds >= 0, or None")
        if self.otlp is not None and not self.otlp.startswith(("http://", "https://")):
            raise ConfigError("otlp", self.otlp, "an http(s) URL such as http://localhost:4318")

    @property
    def grace_s(self) -> float:
        return self.grace if self.grace is not None else min(2.0, self.duration / 5)

    @property
    def capacity_rpm(self) -> int:
        """Requests per minute all providers together allow."""
        return sum(p.rpm for p in self.providers)

    @property
    def healthy_capacity(self) -> float:
        """Requests the providers allow over the run, each only while it is up."""
        total = 0.0
        for p in self.providers:
            down = 0.0 if p.outage is None else max(0.0, min(p.outage[1], 1.0) - p.outage[0])
            total += p.rpm / 60.0 * self.duration * (1.0 - down)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration": self.duration,
            "concurrency": self.concurrency,
            "seed": self.seed,
            "failure_rate": self.failure_rate,
            "call_timeout": self.call_timeout,
            "capacity_rpm": self.capacity_rpm,
            "healthy_capacity": round(self.healthy_capacity, 1),
            "providers": [
                {
                    "name": p.name,
                    "model": p.model,
                    "wire": p.style,
                    "rpm": p.rpm,
                    "tpm": p.tpm,
                    "outage": (
                        None
                        if p.outage is None
                        else {
                            "start_s": round(p.outage[0] * self.duration, 2),
                            "end_s": round(p.outage[1] * self.duration, 2),
                            "status": p.outage[2],
                        }
                    ),
                }
                for p in self.providers
            ],
        }


def build_pipeline(
    config: SimulationConfig, hooks: list[Any], rng: random.Random | None = None
) -> tuple[Pipeline, CircuitBreaker]:
    """The full pipeline of the design's flow, set up for these providers."""
    rng = rng if rng is not None else random.Random(config.seed)
    limits = {
        p.name: Limit(rpm=p.rpm, tpm=p.tpm, burst=max(1, p.rpm // 60)) for p in config.providers
    }
    breaker = CircuitBreaker(
        failure_threshold=5,
        window=10.0,
        # Scaled to a run of seconds: a production breaker would wait longer.
        reset_timeout=1.0,
        max_reset_timeout=4.0,
        random=random.Random(rng.random()),
    )
    pipeline = Pipeline(
        Fallback([p.target for p in config.providers]),
        Retry(3, base=0.25, cap=2.0, random=random.Random(rng.random())),
        breaker,
        # A call that would queue here more than 0.5 s longer than at another
        # target goes there (nothing sent here); on its last target it waits.
        RateLimiter(limits, spill_after=0.5),
        hooks=hooks,
        random=rng,
    )
    return pipeline, breaker


class _Side:
    """One side's run: agents, counters, the clock of the run."""

    def __init__(self, name: str, config: SimulationConfig, send: Sender, tally: Tally) -> None:
        self.name = name
        self.config = config
        self.send = send
        self.tally = tally
        self.stop = asyncio.Event()
        self.in_flight = 0

    async def one(self, task: Task, step: Step) -> bool:
        trace = Trace()
        token = CURRENT_TRACE.set(trace)
        self.in_flight += 1
        self.tally.started += 1
        started = time.perf_counter()
        error: BaseException | None = None
        try:
            # The pipeline keeps its own deadline (Call.timeout); this bounds the
            # baseline's logical call, SDK retries included, to the same time.
            limit = self.config.call_timeout + (1.0 if self.name == "pipeline" else 0.0)
            async with asyncio.timeout(limit):
                await self.send(task, step)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure is data here
            error = exc
        finally:
            self.in_flight -= 1
            CURRENT_TRACE.reset(token)
        self.tally.record_call(time.perf_counter() - started, error, trace.statuses, trace.sends)
        if self.name == "baseline":
            self.tally.record_sdk_call(trace.statuses, trace.sends)
        return error is None

    async def agent(self, index: int) -> None:
        workload = Workload(self.config.providers, self.config.seed * 1000 + index)
        while not self.stop.is_set():
            task = workload.task()
            for step in task.steps:
                if self.stop.is_set():
                    return
                ok = await self.one(task, step)
                # The agent runs a tool before its next call; a failed call
                # ends the task (its next steps needed this answer).
                await asyncio.sleep(step.think)
                if not ok:
                    break


async def _run_side(
    name: str, config: SimulationConfig, progress: Progress | None, telemetry: Any
) -> dict[str, Any]:
    tally = Tally(name)
    fps = fake_providers(config)
    async with contextlib.AsyncExitStack() as stack:
        for fp in fps:
            await stack.enter_async_context(fp)
        retries = 0 if name == "pipeline" else 2
        clients = {
            p.name: sdk_client(p, fp.base_url, config, retries)
            for p, fp in zip(config.providers, fps, strict=True)
        }
        for client in clients.values():
            stack.push_async_callback(client.close)
        breaker: CircuitBreaker | None = None
        if name == "pipeline":
            hooks: list[Any] = [tally]
            if telemetry is not None:
                hooks.append(telemetry)
            pipeline, breaker = build_pipeline(config, hooks)
            send = pipeline_sender(pipeline, clients, config)
        else:
            send = baseline_sender(clients)
        side = _Side(name, config, send, tally)

        def snapshot(elapsed: float) -> dict[str, Any]:
            states = {}
            if breaker is not None:
                states = {p.name: breaker.state(p.target) for p in config.providers}
            return {
                "side": name,
                "elapsed": elapsed,
                "duration": config.duration,
                "calls": tally.calls,
                "succeeded": tally.succeeded,
                "failed": tally.failed,
                "in_flight": side.in_flight,
                "requests": sum(fp.count() for fp in fps),
                "provider_429s": sum(fp.count(429) for fp in fps),
                "retries": tally.retries if name == "pipeline" else tally.sdk_retries,
                "fallbacks": tally.fallbacks,
                "breaker_trips": tally.breaker_trips,
                "breakers": states,
                "outage": any(
                    p.outage is not None
                    and p.outage[0] * config.duration <= elapsed < p.outage[1] * config.duration
                    for p in config.providers
                ),
            }

        started = time.perf_counter()
        agents = [asyncio.create_task(side.agent(i)) for i in range(config.concurrency)]
        try:
            while (elapsed := time.perf_counter() - started) < config.duration:
                if progress is not None:
                    progress(snapshot(elapsed))
                await asyncio.sleep(min(0.25, config.duration - elapsed))
            side.stop.set()
            pending: set[asyncio.Task[None]] = set(agents)
            if config.grace_s > 0:
                _, pending = await asyncio.wait(agents, timeout=config.grace_s)
            unfinished = side.in_flight
            for task in pending:
                task.cancel()
            await asyncio.gather(*agents, return_exceptions=True)
        finally:
            side.stop.set()
            for task in agents:
                task.cancel()
        elapsed = time.perf_counter() - started
        if progress is not None:
            progress(snapshot(elapsed))
        return summarize(
            tally,
            elapsed=elapsed,
            provider_429s=sum(fp.count(429) for fp in fps),
            provider_requests=sum(fp.count() for fp in fps),
            unfinished=unfinished,
            capacity_rpm=config.capacity_rpm,
            healthy_capacity=config.healthy_capacity,
        )


async def simulate(config: SimulationConfig, progress: Progress | None = None) -> dict[str, Any]:
    """Run the baseline, then the pipeline; return both sides' figures."""
    # Import the SDKs before any clock starts: the first import takes a while.
    import anthropic  # noqa: F401
    import openai  # noqa: F401

    telemetry = None
    if config.otlp is not None:
        from resilience.telemetry import configure

        telemetry = configure("resilience-simulate", endpoint=config.otlp)
    result: dict[str, Any] = {}
    try:
        for name in SIDES:
            result[name] = await _run_side(name, config, progress, telemetry)
    finally:
        if telemetry is not None:
            telemetry.shutdown()
    return {
        "pipeline": result["pipeline"],
        "baseline": result["baseline"],
        "config": config.as_dict(),
    }
