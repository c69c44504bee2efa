"""A chaos server that speaks the OpenAI and Anthropic wire formats.

Every instance serves ``POST /v1/chat/completions`` and ``GET /v1/models`` (OpenAI) and
``POST /v1/messages`` (Anthropic). Errors, headers and rate-limit header styles follow
the route, so the real SDKs can be pointed at it by base URL alone.
"""

from __future__ import annotations

import json
import random
import time
from collections import deque
from collections.abc import Iterable, Mapping
from types import TracebackType

from aiohttp import web

from resilience._core.clock import Clock
from resilience._core.context import clock_of
from resilience._core.errors import ConfigError
from resilience.testing import _wire_anthropic as wa
from resilience.testing import _wire_errors as we
from resilience.testing import _wire_openai as wo
from resilience.testing._completion import Request
from resilience.testing._limits import (
    Decision,
    RateLimits,
    anthropic_headers,
    openai_headers,
    rfc3339,
)
from resilience.testing._profiles import Outage, Outcome, Profile, check_outcome
from resilience.testing._records import Recorder, RequestRecord
from resilience.testing._streaming import Responder

__all__ = ["FakeProvider"]

# "continue": continuing a final assistant message (Anthropic prefill, continue_final_message).
_FEATURES = frozenset({"tools", "json", "stream", "continue"})
_DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "claude-haiku-4-5")


def _positive_int_or_none(field: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(field, value, "a positive integer or None")
    return value


def _seconds(field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigError(field, value, "seconds >= 0")
    return float(value)


def _api_key(request: web.Request) -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("x-api-key", "")


class FakeProvider:
    """A fake OpenAI + Anthropic provider with provider-style rate limits and failures.

    Use it as ``async with FakeProvider(...) as fp`` (it listens on ``host:port``, port 0
    picks a free one) or mount :meth:`app` yourself. See the README for every option.
    """

    def __init__(
        self,
        *,
        rpm: int | None = None,
        tpm: int | None = None,
        profile: Profile | str | Mapping[Outcome, float] | None = None,
        failure_rate: float = 0.0,
        seed: int = 0,
        latency: float = 0.0,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        unsupported: Mapping[str, Iterable[str]] | None = None,
        outages: Iterable[Outage] = (),
        clock: Clock | None = None,
        context_window: Mapping[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        models: Iterable[str] | None = None,
    ) -> None:
        self._limits = RateLimits(
            _positive_int_or_none("rpm", rpm), _positive_int_or_none("tpm", tpm)
        )
        self.profile = Profile.coerce(profile)
        if (
            isinstance(failure_rate, bool)
            or not isinstance(failure_rate, int | float)
            or not (0.0 <= failure_rate <= 1.0)
        ):
            raise ConfigError("failure_rate", failure_rate, "a fraction between 0 and 1")
        if failure_rate > 0 and self.profile is None:
            self.profile = Profile.named("requesty-2026-04")
        self.failure_rate = float(failure_rate)
        self._rng = random.Random(seed)
        self.latency = _seconds("latency", latency)
        self.ttft = _seconds("ttft", ttft)
        if tokens_per_second is not None and (
            isinstance(tokens_per_second, bool)
            or not isinstance(tokens_per_second, int | float)
            or not tokens_per_second > 0
        ):
            raise ConfigError("tokens_per_second", tokens_per_second, "a rate > 0 or None")
        self.tokens_per_second = tokens_per_second
        self._unsupported: dict[str, frozenset[str]] = {}
        for model, feats in (unsupported or {}).items():
            fs = frozenset([feats] if isinstance(feats, str) else feats)
            if not fs <= _FEATURES:
                raise ConfigError(
                    f"unsupported[{model!r}]", set(fs), f"a subset of {sorted(_FEATURES)}"
                )
            self._unsupported[model] = fs
        self._context: dict[str, int] = {}
        for model, window in (context_window or {}).items():
            self._context[model] = _positive_int_or_none(f"context_window[{model!r}]", window) or 0
        self._outages = tuple(outages)
        for o in self._outages:
            if not isinstance(o, Outage):
                raise ConfigError("outages", o, "Outage(start, end, status, models)")
        self.clock = clock_of(clock)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError("port", port, "an integer between 0 and 65535")
        self.host, self.port = host, port
        names = list(models) if models is not None else list(_DEFAULT_MODELS)
        self._models = sorted(set(names) | set(self._unsupported) | set(self._context))
        self._recorder = Recorder()
        self._scripts: dict[str | None, deque[Outcome]] = {}
        self._manual: tuple[Outcome, frozenset[str] | None] | None = None
        self._serial = 0
        self._t0: float | None = None
        self._wall0 = 0.0
        self._responder = Responder(self)
        self._runner: web.AppRunner | None = None

    # -- public surface -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://host:port``: OpenAI SDKs take ``base_url + "/v1"``, Anthropic's this."""
        if self._runner is None:
            raise RuntimeError("FakeProvider is not started: use 'async with FakeProvider()'")
        return f"http://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far, in arrival order."""
        return self._recorder.records

    def count(self, status: int | str | None = None, model: str | None = None) -> int:
        """How many requests got ``status`` (an HTTP status, or ``"reset"``, ``"hang"``,
        ``"midstream"``), for ``model``; None means any."""
        return self._recorder.count(status, model)

    def stats(self) -> dict[int | str, int]:
        """Requests so far by outcome (status, or reset/hang/midstream, or a stream
        fault's kind)."""
        return dict(self._recorder.by_outcome)

    def script(self, model: str | None, outcomes: Iterable[Outcome]) -> None:
        """Queue the exact next outcomes for ``model`` (None: any model). Each is an HTTP
        status (200 = a normal answer), ``"reset"``, ``"hang"``, ``"midstream"``, or a
        :class:`StreamFault` (``StreamFault.cut(40)`` or ``"cut:40"``: a stream that
        breaks after it began). Scripted outcomes bypass limits, outages and injection."""
        queue = self._scripts.setdefault(model, deque())
        queue.extend(check_outcome("script", o) for o in outcomes)

    def set_outage(self, status: Outcome | None, models: Iterable[str] | None = None) -> None:
        """Start (``status``) or end (``None``) an outage now, for ``models`` or all."""
        if status is None:
            self._manual = None
            return
        self._manual = (check_outcome("set_outage", status), frozenset(models) if models else None)

    def now(self) -> float:
        """Seconds since the server started, on its clock (the time outages refer to)."""
        if self._t0 is None:
            self._start_clock()
        assert self._t0 is not None
        return self.clock.monotonic() - self._t0

    def app(self) -> web.Application:
        """An aiohttp application serving both wire formats, for mounting it yourself.

        Run it with ``handler_cancellation=True`` so hung requests end when their client
        gives up."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._openai)
        app.router.add_post("/chat/completions", self._openai)
        app.router.add_post("/v1/messages", self._anthropic)
        app.router.add_get("/v1/models", self._list_models)
        app.router.add_get("/models", self._list_models)
        app.router.add_route("*", "/{tail:.*}", self._unknown_route)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self) -> FakeProvider:
        if self._runner is not None:
            return self
        self._start_clock()
        self._responder.reopen()
        runner = web.AppRunner(
            self.app(), handle_signals=False, access_log=None, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, shutdown_timeout=0.5)
        await site.start()
        sockets = runner.addresses
        if self.port == 0 and sockets:
            self.port = int(sockets[0][1])
        self._runner = runner
        return self

    async def close(self) -> None:
        runner, self._runner = self._runner, None
        self._responder.shutdown()
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> FakeProvider:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- internals ------------------------------------------------------------------------

    def _start_clock(self) -> None:
        self._t0 = self.clock.monotonic()
        self._wall0 = time.time()

    async def _on_shutdown(self, app: web.Application) -> None:
        self._responder.shutdown()

    def next_id(self) -> str:
        self._serial += 1
        return f"{self._serial:012x}{self._rng.getrandbits(48):012x}"

    def record(
        self,
        t: float,
        key: str,
        req: Request | None,
        endpoint: str,
        status: int,
        out: int,
        reason: str,
    ) -> None:
        self._recorder.add(
            RequestRecord(
                time=t,
                key=key,
                model=req.model if req is not None else "",
                endpoint=endpoint,
                status=status,
                input_tokens=req.input_tokens if req is not None else 0,
                output_tokens=out,
                stream=req.stream if req is not None else False,
                reason=reason,
            )
        )

    def limit_headers(self, style: we.Style, d: Decision | None, t: float) -> dict[str, str]:
        if d is None:
            return {}
        return openai_headers(d) if style == "openai" else anthropic_headers(d, self._wall0 + t)

    def _decide(self, req: Request, key: str, t: float) -> tuple[Outcome, str, Decision | None]:
        """What this request gets: (outcome, reason, limiter decision for the headers)."""
        queue = self._scripts.get(req.model) or self._scripts.get(None)
        limits = self._limits
        if queue:
            outcome = queue.popleft()
            d = limits.check(key, req.model, req.cost, t, charge=False) if limits.enabled else None
            return outcome, "scripted", d
        manual = self._manual
        if manual is not None and (manual[1] is None or req.model in manual[1]):
            d = limits.check(key, req.model, req.cost, t, charge=False) if limits.enabled else None
            return manual[0], "outage", d
        for outage in self._outages:
            if outage.applies(t, req.model):
                d = (
                    limits.check(key, req.model, req.cost, t, charge=False)
                    if limits.enabled
                    else None
                )
                return outage.status, "outage", d
        missing = self._unsupported.get(req.model)
        if missing and req.features & missing:
            return 400, "unsupported", None
        window = self._context.get(req.model)
        if window and req.cost > window:
            return 400, "context_length", None
        d = limits.check(key, req.model, req.cost, t) if limits.enabled else None
        if d is not None and not d.allowed:
            return 429, "rate_limit", d
        if (
            self.profile is not None
            and self.failure_rate > 0
            and (self._rng.random() < self.failure_rate)
        ):
            return self.profile.sample(self._rng), "injected", d
        return 200, "ok", d

    async def _openai(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "openai")

    async def _anthropic(self, request: web.Request) -> web.StreamResponse:
        return await self._handle(request, "anthropic")

    async def _handle(self, request: web.Request, style: we.Style) -> web.StreamResponse:
        t = self.now()
        endpoint = request.path
        key = _api_key(request)
        raw = await request.read()
        rid = self.next_id()
        parse = wo.parse if style == "openai" else wa.parse
        try:
            req = parse(json.loads(raw), raw)
        except (ValueError, wo.BadRequest) as exc:
            message = (
                exc.message
                if isinstance(exc, wo.BadRequest)
                else ("We could not parse the JSON body of your request.")
            )
            param = exc.param if isinstance(exc, wo.BadRequest) else None
            self.record(t, key, None, endpoint, 400, 0, "bad_request")
            answer = we.bad_request(style, message, param=param, request_id=f"req_{rid}")
            return self._responder.plain(style, answer, rid, {})
        outcome, reason, decision = self._decide(req, key, t)
        return await self._responder.respond(
            request, style, req, outcome, reason, decision, key=key, t=t, rid=rid
        )

    async def _unknown_route(self, request: web.Request) -> web.Response:
        """A 404 worded like the provider the client seems to speak to."""
        rid = f"req_{self.next_id()}"
        anthropic = "anthropic-version" in request.headers or "x-api-key" in request.headers
        style: we.Style = "anthropic" if anthropic else "openai"
        body = we.not_found_route(style, request.method, request.path, rid)
        headers = {"request-id" if anthropic else "x-request-id": rid}
        return web.Response(status=404, body=body, headers=headers, content_type="application/json")

    async def _list_models(self, request: web.Request) -> web.Response:
        anthropic = "anthropic-version" in request.headers or "x-api-key" in request.headers
        if anthropic:
            body = wa.models(self._models, rfc3339(self._wall0))
        else:
            body = wo.models(self._models, int(self._wall0))
        return web.Response(body=body, content_type="application/json")

    def answer_for(
        self,
        status: int,
        reason: str,
        style: we.Style,
        req: Request,
        decision: Decision | None,
        rid: str,
    ) -> we.Answer:
        """Status, headers and body of an error answer."""
        rid = f"req_{rid}"
        if status == 429 and decision is not None:
            return we.rate_limited(style, decision, model=req.model, request_id=rid)
        if reason == "unsupported":
            feature = sorted(req.features & self._unsupported.get(req.model, frozenset()))[0]
            return we.unsupported(style, feature, model=req.model, request_id=rid)
        if reason == "context_length":
            limit = self._context[req.model]
            return we.context_length(
                style, model=req.model, limit=limit, tokens=req.cost, request_id=rid
            )
        return we.injected(
            status, style, model=req.model, request_id=rid, serial=self._serial, host=self.host
        )

    def pacing(self) -> tuple[float, float, float | None]:
        return self.latency, self.ttft, self.tokens_per_second
