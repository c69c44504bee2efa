"""classify(): any provider failure becomes a :class:`Failure`.

The verdict is built from four sources, in this order of trust:

1. identifiers the provider chose on purpose (error ``code``/``type``,
   Google ``status``/``reason``, AWS exception names, SDK class names);
2. the HTTP status, read as DESIGN.md's table reads it;
3. the wording of the message (robust patterns, not exact sentences);
4. the transport: a timeout or a dropped connection with no response.

Identifiers and wording may refine the status ("429 insufficient_quota is
billing", "400 API key not valid is auth") but only within what the status
makes plausible: a 404 stays ``not_found`` whatever its message says, and
a 4xx never becomes a server outage on wording alone, except a 429 whose
provider says it is out of capacity rather than throttling the caller.

Three refinements outrank the kind-by-kind weighing (see :mod:`resilience._classify.scope`):
a block on the caller's country or region is ``permission`` whatever the
status; a model this target does not serve as asked (dedicated endpoint,
inference profile, serving region) is ``not_found``; and a limit the words
put per minute is a rate limit even when its error type says billing or
quota, one they put per day a quota. A 2xx status describes only the start
of a stream, so an error found inside one is judged as if no status came.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from resilience._classify.bodies import ParsedBody, ident, parse_body
from resilience._classify.from_exceptions import ExcInfo, inspect_exception
from resilience._classify.hints import hint_for
from resilience._classify.parsed import http_status
from resilience._classify.patterns import find_signals, retry_after_from_text
from resilience._classify.redact import shorten
from resilience._classify.verdict import STATUS_KINDS, cause_of, choose, kind_for_status
from resilience._core.failure import Failure, Kind
from resilience._core.headers import RateLimitInfo, header_dict, parse_ratelimit_headers

__all__ = ["STATUS_KINDS", "classify"]

K = Kind
# "HTTP 529 Overloaded" when a failure brings no message of its own.
_PHRASES = {s.value: s.phrase for s in HTTPStatus} | {
    499: "Client Closed Request",
    520: "Unknown Error",
    521: "Web Server Is Down",
    522: "Connection Timed Out",
    524: "A Timeout Occurred",
    529: "Overloaded",
}


def _reset_wait(info: RateLimitInfo, text: str) -> float | None:
    """The reset that matters for this rate limit: the dimension the message
    names, else the exhausted ones, else the longest."""
    lowered = text.lower()
    if "token" in lowered and info.tokens_reset is not None:
        return info.tokens_reset
    if "request" in lowered and info.requests_reset is not None:
        return info.requests_reset
    pairs = (
        (info.requests_remaining, info.requests_reset),
        (info.tokens_remaining, info.tokens_reset),
        (info.input_tokens_remaining, info.input_tokens_reset),
        (info.output_tokens_remaining, info.output_tokens_reset),
    )
    exhausted = [reset for remaining, reset in pairs if remaining == 0 and reset is not None]
    if exhausted:
        return max(exhausted)
    return info.longest_reset


def _finite(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _pick_code(
    pb: ParsedBody, extra: ParsedBody | None, header_type: str | None, exc: ExcInfo | None
) -> str | None:
    candidates = (
        pb.code,
        pb.type,
        header_type,
        extra.code if extra else None,
        extra.type if extra else None,
        exc.code if exc else None,
    )
    for candidate in candidates:
        if isinstance(candidate, str):
            c = candidate.strip()
            if c and c.lower() != "error" and not c.isdigit() and len(c) <= 80:
                return c
    return None


def _from_resilience_error(error: BaseException, provider: str | None) -> Failure | None:
    from resilience._core.errors import CircuitOpenError, ResilienceError

    if not isinstance(error, ResilienceError):
        return None
    failure = getattr(error, "failure", None)
    if isinstance(failure, Failure):
        return failure
    if isinstance(error, CircuitOpenError):
        wait = error.retry_after if isinstance(error.retry_after, int | float) else None
        return Failure.of(
            Kind.OVERLOADED,
            retry_after=_finite(wait),
            code="circuit_open",
            message=shorten(str(error)),
            provider=provider,
            trips_breaker=False,  # the breaker already knows
        )
    return Failure.of(Kind.UNKNOWN, message=shorten(type(error).__name__), provider=provider)


def _status_flags(st: int | None, kind: Kind) -> tuple[bool | None, bool | None]:
    """(retryable, trips_breaker) where the status says more than the kind's defaults."""
    if st == 409 and kind is K.SERVER:
        return None, False  # contention, not ill health
    if st == 501 and kind is K.SERVER:
        return False, False  # the endpoint does not exist here
    return None, None


def _classify(
    error: BaseException | None,
    status: Any,
    headers: Any,
    body: Any,
    provider: str | None,
    now: float | None,
) -> Failure:
    exc: ExcInfo | None = None
    if error is not None:
        done = _from_resilience_error(error, provider)
        if done is not None:
            return done
        exc = inspect_exception(error)
        if not exc.recognised:
            if status is None and body is None and headers is None:
                return Failure.of(Kind.UNKNOWN, provider=provider)
            exc = None  # a bug's exception says nothing; the raw response may
    st = http_status(status)
    if st is None and exc is not None:
        st = exc.status
    if headers is None and exc is not None:
        headers = exc.headers
    if body is None and exc is not None:
        body = exc.body
    pb = parse_body(body)
    extra = parse_body(exc.message) if exc is not None and exc.message else None
    idents = list(pb.idents)
    texts = list(pb.texts)
    if extra is not None:
        idents += [i for i in extra.idents if i not in idents]
        texts += [t for t in extra.texts if t not in texts]
    if exc is not None:
        idents += [n for n in exc.names if n not in idents]
    hdrs = header_dict(headers)
    header_type = hdrs.get("x-amzn-errortype")
    if header_type:
        idents.insert(0, ident(header_type))
    if (st is None or 200 <= st < 300) and pb.status is not None:
        st = pb.status
    elif st is None and extra is not None and extra.status is not None:
        st = extra.status
    text = " \n ".join(texts)
    lowered = text[:8000].lower()
    sig = find_signals(idents, text, pb.param or (extra.param if extra else None), lowered)

    # The wait the response asks for, in order of trust: headers, the
    # exception (litellm's cooldown), structured body fields, the wording.
    rl = parse_ratelimit_headers(hdrs, now=now) if hdrs else None
    wait = rl.retry_after if rl is not None else None
    for source in (
        exc.retry_after if exc is not None else None,
        pb.retry_delay,
        extra.retry_delay if extra is not None else None,
    ):
        if wait is None:
            wait = source
    if wait is None:
        wait = retry_after_from_text(text)

    if exc is not None and exc.transport is not None and st is None and not sig.strong:
        kind = exc.transport
    else:
        kind = choose(st, sig, lowered, idents, _finite(wait))
        if (
            kind is K.UNKNOWN
            and not pb.empty
            and (pb.stream or (st is not None and 200 <= st < 300))
        ):
            kind = K.SERVER  # the provider accepted the request, then failed while answering
    if wait is None and rl is not None and kind in (K.RATE_LIMIT, K.QUOTA):
        wait = _reset_wait(rl, text)

    retryable, trips = _status_flags(st, kind)
    if hdrs.get("x-should-retry", "").lower() == "false":
        retryable = False

    message = pb.message or (extra.message if extra is not None else "")
    if exc is not None and (not message or (exc.transport is not None and st is None)):
        name = type(error).__name__
        detail = exc.message or ""
        message = f"{name}: {detail}" if detail and not detail.startswith(name) else detail or name
    if not message and st is not None:
        message = f"HTTP {st} {_PHRASES.get(st, '')}".strip()
    feature = sig.feature if kind is K.UNSUPPORTED_FEATURE else None
    prov = provider if provider is not None else (exc.provider if exc is not None else None)
    mid_stream = pb.stream and kind is not K.UNKNOWN
    return Failure.of(
        kind,
        status=st,
        retry_after=_finite(wait),
        code=_pick_code(pb, extra, header_type.split(":", 1)[0] if header_type else None, exc),
        message=shorten(message),
        hint=hint_for(
            kind,
            st,
            feature=feature,
            provider=prov,
            cause=cause_of(kind, st, sig, idents),
            mid_stream=mid_stream,
        ),
        provider=prov,
        feature=feature,
        retryable=retryable,
        trips_breaker=trips,
    )


def _bare_status(st: int | None, provider: str | None) -> Failure:
    """Only a status: DESIGN.md's table, with no body to parse or scan."""
    if st is None:
        return Failure.of(Kind.UNKNOWN, provider=provider)
    kind = kind_for_status(st) if not 200 <= st < 300 else Kind.UNKNOWN
    retryable, trips = _status_flags(st, kind)
    return Failure.of(
        kind,
        status=st,
        message=f"HTTP {st} {_PHRASES.get(st, '')}".strip(),
        hint=hint_for(kind, st, provider=provider),
        provider=provider,
        retryable=retryable,
        trips_breaker=trips,
    )


def classify(
    error: BaseException | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, Any] | None = None,
    body: Any = None,
    provider: str | None = None,
    now: float | None = None,
) -> Failure:
    """Classify an exception or a raw response. Never raises.

    ``error`` is any exception (openai, anthropic, litellm, langchain, httpx,
    aiohttp, botocore, asyncio, OSError...); ``status``, ``headers`` and
    ``body`` describe a raw response (body as str, bytes, dict or list) and
    take precedence over what the exception carries. ``now`` is wall-clock
    epoch seconds, the base for absolute reset times when the response has
    no ``date`` header.

    An exception that is not a provider or transport failure (a bug such as
    TypeError) gives kind ``unknown`` with ``status`` None.
    """
    try:
        if provider is not None and not isinstance(provider, str):
            provider = str(provider)
        if error is None and body is None and not headers:
            return _bare_status(http_status(status), provider)
        return _classify(error, status, headers, body, provider, now)
    except Exception:  # the classifier never raises
        try:
            return Failure.of(Kind.UNKNOWN, status=http_status(status), provider=provider)
        except Exception:
            return Failure.of(Kind.UNKNOWN)
