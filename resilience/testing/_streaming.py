"""Writing answers: JSON, SSE with pacing, errors mid-stream, resets, hangs and
streams that break after they began (:class:`StreamFault`)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from aiohttp import web

from resilience.testing import _wire_anthropic as wa
from resilience.testing import _wire_errors as we
from resilience.testing import _wire_openai as wo
from resilience.testing._completion import Request
from resilience.testing._faults import StreamFault, garbage
from resilience.testing._limits import Decision, exhausted
from resilience.testing._profiles import Outcome

if TYPE_CHECKING:
    from resilience.testing._fake_provider import FakeProvider

__all__ = ["Responder"]

_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


class Responder:
    """Turns a decided outcome into bytes on the wire, with the configured pacing."""

    def __init__(self, fp: FakeProvider) -> None:
        self._fp = fp
        self._closing = asyncio.Event()

    def reopen(self) -> None:
        self._closing = asyncio.Event()

    def shutdown(self) -> None:
        # Hung and reset handlers wait on this, so the server can always shut down.
        self._closing.set()

    def _id_header(self, style: we.Style, rid: str) -> dict[str, str]:
        return {"x-request-id": f"req_{rid}"} if style == "openai" else {"request-id": f"req_{rid}"}

    def plain(
        self, style: we.Style, answer: we.Answer, rid: str, extra: dict[str, str]
    ) -> web.Response:
        status, headers, body = answer
        return web.Response(
            status=status, body=body, headers={**self._id_header(style, rid), **extra, **headers}
        )

    async def _dropped(self, request: web.Request) -> web.StreamResponse:
        """Close the connection without an answer, then wait to be cancelled."""
        _abort(request)
        # The runner cancels this handler once the transport reports the loss; when the
        # app is mounted without handler cancellation, shutdown releases it instead.
        await self._closing.wait()
        raise asyncio.CancelledError

    async def respond(
        self,
        request: web.Request,
        style: we.Style,
        req: Request,
        outcome: Outcome,
        reason: str,
        decision: Decision | None,
        *,
        key: str,
        t: float,
        rid: str,
    ) -> web.StreamResponse:
        fp = self._fp
        endpoint = request.path
        if outcome == "reset":
            fp.record(t, key, req, endpoint, 0, 0, "reset")
            return await self._dropped(request)
        if outcome == "hang":
            fp.record(t, key, req, endpoint, 0, 0, "hang")
            await self._closing.wait()
            return await self._dropped(request)
        latency, ttft, tps = fp.pacing()
        if latency > 0:
            await fp.clock.sleep(latency)
        if outcome == 429 and decision is not None and reason != "rate_limit":
            decision = exhausted(decision, req.cost)
        headers = {**self._id_header(style, rid), **fp.limit_headers(style, decision, t)}
        if isinstance(outcome, int) and outcome != 200:
            answer = fp.answer_for(outcome, reason, style, req, decision, rid)
            fp.record(t, key, req, endpoint, answer[0], 0, reason)
            return self.plain(style, answer, rid, headers)
        fault = outcome if isinstance(outcome, StreamFault) else None
        midstream = outcome == "midstream" or fault is not None
        if midstream:
            reason = fault.kind if fault is not None else "midstream"
        if req.stream:
            return await self._stream(
                request, style, req, rid, headers, key, t, reason, midstream, fault
            )
        if style == "openai":
            body, out = wo.completion(req, rid=rid, created=int(time.time()))
        else:
            body, out = wa.message(req, rid=rid)
        fp.record(t, key, req, endpoint, 200, out, reason)
        wait = ttft + (out / tps if tps else 0.0)
        if wait > 0:
            await fp.clock.sleep(wait)
        headers["content-type"] = "application/json"
        if not midstream:
            return web.Response(body=body, headers=headers)
        # A body cut short: the declared length is never reached, the socket drops
        # (or, for a stall, stays open and silent).
        resp = web.StreamResponse(headers=headers)
        resp.content_length = len(body)
        await resp.prepare(request)
        await resp.write(body[: len(body) // 2])
        if fault is not None and fault.kind == "stall":
            await self._closing.wait()
        return await self._dropped(request)

    async def _stream(
        self,
        request: web.Request,
        style: we.Style,
        req: Request,
        rid: str,
        headers: dict[str, str],
        key: str,
        t: float,
        reason: str,
        midstream: bool,
        fault: StreamFault | None,
    ) -> web.StreamResponse:
        fp = self._fp
        if style == "openai":
            frames, out = wo.stream_frames(req, rid=rid, created=int(time.time()))
        else:
            frames, out = wa.stream_frames(req, rid=rid)
        if fault is not None:
            n = min(fault.after, len(frames))
            if fault.kind == "malformed":
                frames = [*frames[:n], garbage(style, rid), *frames[n:]]
            else:
                frames = frames[:n]
        elif midstream:
            # Cut about halfway, after some content went out, and end with the error frame.
            frames = [*frames[: len(frames) // 2], we.midstream_event(style, f"req_{rid}")]
        fp.record(t, key, req, request.path, 200, out, reason)
        _, ttft, tps = fp.pacing()
        if fault is None and ttft <= 0 and not tps:
            # Unpaced, the whole event stream fits one write; SDKs parse it the same way.
            return web.Response(body=b"".join(frames), headers={**headers, **_SSE_HEADERS})
        resp = web.StreamResponse(headers={**headers, **_SSE_HEADERS})
        await resp.prepare(request)
        gap = 1.0 / tps if tps else 0.0
        # The role/start frames go out at once; content starts after ttft.
        lead = 1 if style == "openai" else 3
        await resp.write(b"".join(frames[:lead]))
        if ttft > 0:
            await fp.clock.sleep(ttft)
        for i, frame in enumerate(frames[lead:]):
            if gap and i:
                await fp.clock.sleep(gap)
            await resp.write(frame)
        if fault is not None and fault.kind == "stall":
            await self._closing.wait()
            return await self._dropped(request)
        if fault is not None and fault.kind == "cut":
            return await self._dropped(request)
        await resp.write_eof()
        return resp
