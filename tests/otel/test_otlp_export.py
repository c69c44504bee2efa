"""The export path for real: configure() installs the SDK and the OTLP/HTTP
exporter, which POSTs protobuf to a local receiver (an aiohttp app decoding
``ExportTraceServiceRequest`` / ``ExportMetricsServiceRequest`` with
opentelemetry-proto), and what arrives is what Jaeger would show."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from resilience import Call, FakeClock, Pipeline
from resilience.telemetry import Telemetry, configure
from tests.otel._support import Guard, Hopping, HTTPFailure, Retrying, Script

ROOT = Path(__file__).resolve().parents[2]


def value(v: AnyValue) -> Any:
    which = v.WhichOneof("value")
    if which == "array_value":
        return [value(x) for x in v.array_value.values]
    return getattr(v, which) if which else None


def attrs(kvs: Any) -> dict[str, Any]:
    return {kv.key: value(kv.value) for kv in kvs}


@dataclass
class Receiver:
    """An OTLP/HTTP collector that keeps what it decodes."""

    url: str = ""
    spans: list[tuple[dict[str, Any], Span]] = field(default_factory=list)  # (resource, span)
    metrics: list[ExportMetricsServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def named(self, prefix: str) -> list[Span]:
        return [s for _, s in self.spans if s.name.startswith(prefix)]

    def metric_points(self, name: str) -> list[tuple[dict[str, Any], Any]]:
        out = []
        for req in self.metrics:
            for rm in req.resource_metrics:
                for sm in rm.scope_metrics:
                    for m in sm.metrics:
                        if m.name == name:
                            data = getattr(m, m.WhichOneof("data"))
                            out.extend((attrs(p.attributes), p) for p in data.data_points)
        return out


async def _body(request: web.Request) -> bytes:
    # aiohttp undoes Content-Encoding (gzip, deflate) itself.
    return await request.read()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def traces(request: web.Request) -> web.Response:
        assert request.content_type == "application/x-protobuf"
        rec.headers.append(dict(request.headers))
        req = ExportTraceServiceRequest.FromString(await _body(request))
        for rs in req.resource_spans:
            resource = attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                rec.spans.extend((resource, s) for s in ss.spans)
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    async def metrics(request: web.Request) -> web.Response:
        rec.metrics.append(ExportMetricsServiceRequest.FromString(await _body(request)))
        return web.Response(
            body=ExportMetricsServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    app = web.Application()
    app.router.add_post("/v1/traces", traces)
    app.router.add_post("/v1/metrics", metrics)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}"
    yield rec
    await runner.cleanup()


CALL = Call(provider="openai", model="gpt-4o")


@pytest.fixture
async def otlp(receiver: Receiver) -> AsyncIterator[Callable[..., Telemetry]]:
    """configure(set_global=False, ...); every instance is shut down before
    the receiver goes away, so no exporter keeps retrying into the void."""
    made: list[Telemetry] = []

    def make(**settings: Any) -> Telemetry:
        telemetry = configure(set_global=False, **settings)
        made.append(telemetry)
        return telemetry

    yield make
    for telemetry in made:
        await asyncio.to_thread(telemetry.shutdown)


async def test_spans_attributes_and_events_arrive_over_otlp_http(
    receiver: Receiver, otlp: Callable[..., Telemetry], clock: FakeClock
) -> None:
    tel = otlp(service_name="otlp-test", endpoint=receiver.url, export_metrics=True)
    script = Script(
        {
            "openai/gpt-4o": [HTTPFailure(429, headers={"retry-after": "1"}), HTTPFailure(503)],
            "anthropic/claude-sonnet-4": ["ok"],
        },
        usage={"input_tokens": 7, "output_tokens": 3},
    )
    pipeline = Pipeline(
        Hopping("anthropic/claude-sonnet-4"),
        Retrying(tries=2, delay=1.0),
        Guard(waits=[0.0, 0.0, 0.5]),
        hooks=[tel],
        clock=clock,
    )
    task = asyncio.create_task(pipeline.run(script, CALL))
    await clock.run_until_idle()
    assert await task == "ok"
    # The exporter posts from its own thread; keep this loop free to answer.
    await asyncio.to_thread(tel.shutdown)

    (logical,) = receiver.named("chat gpt-4o")
    resource = next(r for r, s in receiver.spans if s is logical)
    assert resource["service.name"] == "otlp-test"
    assert logical.kind == Span.SPAN_KIND_CLIENT
    assert logical.status.code != Status.STATUS_CODE_ERROR
    la = attrs(logical.attributes)
    assert la["gen_ai.operation.name"] == "chat"
    assert la["gen_ai.provider.name"] == "openai"
    assert la["gen_ai.request.model"] == "gpt-4o"
    assert la["gen_ai.usage.input_tokens"] == 7
    assert la["resilience.served_by"] == "anthropic/claude-sonnet-4"
    assert [e.name for e in logical.events] == [
        "resilience.retry",
        "resilience.fallback",
    ]

    attempts = sorted(receiver.named("attempt "), key=lambda s: s.start_time_unix_nano)
    assert [s.name for s in attempts] == [
        "attempt openai/gpt-4o",
        "attempt openai/gpt-4o",
        "attempt anthropic/claude-sonnet-4",
    ]
    for span in attempts:
        assert span.parent_span_id == logical.span_id
        assert span.trace_id == logical.trace_id
    a0, a1, a2 = (attrs(s.attributes) for s in attempts)
    assert a0["resilience.failure.bucket"] == "auth_quota"
    assert a0["error.type"] == "rate_limit"
    assert a0["http.response.status_code"] == 429
    assert a0["resilience.retry_after"] == 1.0
    assert a1["resilience.failure.bucket"] == "server_error"
    assert a1["http.request.resend_count"] == 1
    assert attempts[1].status.code == Status.STATUS_CODE_ERROR
    assert a2["http.request.resend_count"] == 2
    assert a2["gen_ai.provider.name"] == "anthropic"
    (wait,) = attempts[2].events
    assert wait.name == "resilience.ratelimit.wait"
    assert attrs(wait.attributes)["resilience.ratelimit.wait"] == 0.5

    failures = {
        (a["resilience.failure.bucket"], a["resilience.failure.kind"]): p.as_int
        for a, p in receiver.metric_points("resilience.failures")
    }
    assert failures == {("auth_quota", "rate_limit"): 1, ("server_error", "overloaded"): 1}
    assert sum(p.count for _, p in receiver.metric_points("resilience.attempt.duration")) == 3


async def test_standard_otel_variables_pick_the_endpoint_headers_and_service(
    receiver: Receiver, otlp: Callable[..., Telemetry], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=team-a")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
    tel = otlp()

    async def handler(call: Call) -> str:
        raise HTTPFailure(403)

    pipeline = Pipeline(Retrying(), hooks=[tel])
    with pytest.raises(Exception, match="permission"):
        await pipeline.run(handler, CALL)
    await asyncio.to_thread(tel.shutdown)

    assert receiver.headers and receiver.headers[0]["x-tenant"] == "team-a"
    assert receiver.headers[0]["Content-Encoding"] == "gzip"
    (logical,) = receiver.named("chat gpt-4o")
    resource = next(r for r, s in receiver.spans if s is logical)
    assert resource["service.name"] == "from-env"
    assert logical.status.code == Status.STATUS_CODE_ERROR
    assert attrs(logical.attributes)["resilience.failure.bucket"] == "auth_quota"


async def test_the_jaeger_example_app_exports_its_failure_buckets(receiver: Receiver) -> None:
    """examples/jaeger/app.py, run as a user would, pointed at the receiver."""
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "PYTHONPATH": str(ROOT),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "examples" / "jaeger" / "app.py"),
        "--calls",
        "4",
        "--failure-rate",
        "0",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    logical = receiver.named("chat ")
    assert len(logical) == 4
    assert {r["service.name"] for r, _ in receiver.spans} == {"resilience-example"}
    attempts = receiver.named("attempt ")
    assert len(attempts) > len(logical)  # some calls were retried or moved
    buckets = {attrs(s.attributes).get("resilience.failure.bucket") for s in attempts}
    assert {"auth_quota", "server_error"} <= buckets
    events = {e.name for s in logical + attempts for e in s.events}
    assert events == {
        "resilience.retry",
        "resilience.fallback",
        "resilience.breaker.state_change",
        "resilience.breaker.reject",
    }
    assert all(s.status.code != Status.STATUS_CODE_ERROR for s in logical)  # all served
    assert b"http://localhost:16686" in out
