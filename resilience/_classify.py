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
a 4xx never becomes a server outage on wording alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from resilience._bodies import ParsedBody, ident, parse_body
from resilience._exceptions import ExcInfo, inspect_exception
from resilience._failure import Failure, Kind
from resilience._hints import hint_for
from resilience._patterns import Signals, find_signals, retry_after_from_text
from resilience._ratelimit_headers import RateLimitInfo, header_dict, parse_ratelimit_headers
from resilience._redact import shorten

__all__ = ["STATUS_KINDS", "classify"]

STATUS_KINDS: dict[int, Kind] = {
    400: Kind.BAD_REQUEST,
    401: Kind.AUTH,
    402: Kind.BILLING,
    403: Kind.PERMISSION,
    404: Kind.NOT_FOUND,
    408: Kind.TIMEOUT,
    # 409: the openai and anthropic SDKs retry it; providers send it for
    # transient lock contention on their side, not for a malformed request.
    409: Kind.SERVER,
    413: Kind.PAYLOAD_TOO_LARGE,
    422: Kind.BAD_REQUEST,
    # 424: Bedrock's ModelErrorException, the model failed behind the API.
    424: Kind.SERVER,
    429: Kind.RATE_LIMIT,
    # 498: an invalid or expired token (Esri and several API gateways).
    498: Kind.AUTH,
    499: Kind.CLIENT_CLOSED,
    500: Kind.SERVER,
    502: Kind.GATEWAY,
    503: Kind.OVERLOADED,
    504: Kind.GATEWAY,
    520: Kind.SERVER,
    # 521-526, 530: Cloudflare could not get a (timely, valid) answer from the origin.
    521: Kind.GATEWAY,
    522: Kind.GATEWAY,
    523: Kind.GATEWAY,
    524: Kind.GATEWAY,
    525: Kind.GATEWAY,
    526: Kind.GATEWAY,
    529: Kind.OVERLOADED,
    530: Kind.GATEWAY,
}

K = Kind
# When identifiers or wording point at several kinds, the most specific
# wins: a billing problem explains a 429 better than "rate limit" does.
_PRIORITY = (
    K.BILLING,
    K.CONTENT_FILTER,
    K.CONTEXT_LENGTH,
    K.AUTH,
    K.UNSUPPORTED_FEATURE,
    K.NOT_FOUND,
    K.PERMISSION,
    K.PAYLOAD_TOO_LARGE,
    K.QUOTA,
    K.RATE_LIMIT,
    K.OVERLOADED,
    K.GATEWAY,
    K.TIMEOUT,
    K.SERVER,
    K.CONNECTION,
    K.CLIENT_CLOSED,
)
# Outage kinds: wording alone may not turn a 4xx into one of these.
_SERVER_SIDE = frozenset({K.OVERLOADED, K.GATEWAY, K.TIMEOUT, K.SERVER, K.CONNECTION})
_BY_STATUS: dict[int, frozenset[Kind]] = {
    401: frozenset({K.AUTH, K.BILLING}),
    402: frozenset({K.BILLING, K.QUOTA}),
    403: frozenset({K.PERMISSION, K.AUTH, K.BILLING, K.QUOTA, K.RATE_LIMIT, K.CONTENT_FILTER}),
    404: frozenset({K.NOT_FOUND}),
    408: frozenset({K.TIMEOUT}),
    413: frozenset({K.PAYLOAD_TOO_LARGE, K.CONTEXT_LENGTH}),
    429: frozenset({K.BILLING, K.QUOTA, K.RATE_LIMIT, K.PAYLOAD_TOO_LARGE}),
    499: frozenset({K.CLIENT_CLOSED}),
}
_PHRASES = {s.value: s.phrase for s in HTTPStatus} | {
    499: "Client Closed Request",
    520: "Unknown Error",
    521: "Web Server Is Down",
    522: "Connection Timed Out",
    524: "A Timeout Occurred",
    529: "Overloaded",
}
# A daily or monthly limit whose own message names a wait under an hour is a
# rolling window (OpenAI RPD, Groq TPD): the same request succeeds after it.
_ROLLING_WINDOW_WAIT = 3600.0
_MODEL_WORDS = ("model", "deployment", "endpoint", "decommission", "engine")


def _status(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | str):
            n = int(str(value).strip())
            return n if 100 <= n <= 599 else None
    except (TypeError, ValueError):
        return None
    return None


def _kind_for_status(status: int) -> Kind:
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    if 500 <= status < 600:
        return Kind.SERVER
    if 400 <= status < 500:
        return Kind.BAD_REQUEST
    return Kind.UNKNOWN


def _allowed(kind: Kind, status: int | None, strong: bool, base: Kind | None) -> bool:
    """May evidence for ``kind`` override what ``status`` says?"""
    if status is None or 200 <= status < 300:
        return True
    if kind is base:
        return True
    if status >= 500:
        if kind in (K.CONTEXT_LENGTH, K.CONTENT_FILTER):
            return True
        # Within 5xx only the flavour of outage may change: a 500 that says
        # "overloaded", a 503 from a proxy with no healthy upstream.
        if kind is K.OVERLOADED:
            return base is K.SERVER
        return kind is K.GATEWAY and base in (K.SERVER, K.OVERLOADED)
    if status in _BY_STATUS:
        if status == 429 and kind is K.OVERLOADED:
            return strong
        return kind in _BY_STATUS[status]
    if kind in _SERVER_SIDE:
        return strong
    return True


def _choose(
    status: int | None, sig: Signals, lowered: str, idents: list[str], wait: float | None
) -> Kind:
    base = _kind_for_status(status) if status is not None else None
    if sig.oversized_for_rate and _allowed(K.PAYLOAD_TOO_LARGE, status, True, base):
        return K.PAYLOAD_TOO_LARGE
    generic_status = status is None or 200 <= status < 300 or status == 404
    for kind in _PRIORITY:
        strong = kind in sig.strong
        if not strong and kind not in sig.text:
            continue
        if not strong:
            if kind is K.UNSUPPORTED_FEATURE and sig.feature is None:
                continue
            if kind is K.BILLING and "resource_exhausted" in idents:
                continue  # Google's quota wording mentions billing; it is a quota
            if kind is K.QUOTA and wait is not None and wait < _ROLLING_WINDOW_WAIT:
                continue  # "per day", but a rolling window that frees up soon: a rate limit
            if (
                kind is K.NOT_FOUND
                and not generic_status
                and not any(w in lowered for w in _MODEL_WORDS)
            ):
                continue  # "tool_call_id not found" in a 400 is a bad request
            if kind in _SERVER_SIDE and base is not None and base not in _SERVER_SIDE:
                continue
        if _allowed(kind, status, strong, base):
            return kind
    if base is not None:
        return base
    if sig.weak:
        return sig.weak[0]
    return K.UNKNOWN


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
    from resilience._errors import CircuitOpenError, ResilienceError

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
    st = _status(status)
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
        kind = _choose(st, sig, lowered, idents, _finite(wait))
    if wait is None and rl is not None and kind in (K.RATE_LIMIT, K.QUOTA):
        wait = _reset_wait(rl, text)

    retryable: bool | None = None
    trips: bool | None = None
    if st == 409 and kind is K.SERVER:
        trips = False  # contention, not ill health
    elif st == 501 and kind is K.SERVER:
        retryable, trips = False, False  # the endpoint does not exist here
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
    return Failure.of(
        kind,
        status=st,
        retry_after=_finite(wait),
        code=_pick_code(pb, extra, header_type.split(":", 1)[0] if header_type else None, exc),
        message=shorten(message),
        hint=hint_for(kind, st, feature=feature, provider=prov),
        provider=prov,
        feature=feature,
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
        return _classify(error, status, headers, body, provider, now)
    except Exception:  # the classifier never raises
        try:
            return Failure.of(Kind.UNKNOWN, status=_status(status), provider=provider)
        except Exception:
            return Failure.of(Kind.UNKNOWN)
