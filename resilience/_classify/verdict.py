"""Which kind the evidence points at: the status table, the weighing of
identifiers and wording against the status, and the cause a hint speaks to.

:mod:`resilience._classify.classify` gathers the evidence (status, headers, body,
exception) and builds the :class:`~resilience._core.failure.Failure`; this module
only decides. The order of trust is described there.
"""

from __future__ import annotations

from resilience._classify.hints import Cause
from resilience._classify.patterns import Signals
from resilience._classify.scope import window_of
from resilience._core.failure import Kind

__all__ = ["STATUS_KINDS", "cause_of", "choose", "kind_for_status"]

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
    # 451 Unavailable For Legal Reasons: a country or region block (Zed's
    # gateway in front of Anthropic and OpenAI).
    451: Kind.PERMISSION,
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
    # A capacity identifier is more specific than the generic throttling ones
    # that travel with it (RESOURCE_EXHAUSTED + MODEL_CAPACITY_EXHAUSTED).
    K.OVERLOADED,
    K.RATE_LIMIT,
    K.GATEWAY,
    K.TIMEOUT,
    K.SERVER,
    K.CONNECTION,
    K.CLIENT_CLOSED,
)
# Outage kinds: wording alone may not turn a 4xx into one of these.
_SERVER_SIDE = frozenset({K.OVERLOADED, K.GATEWAY, K.TIMEOUT, K.SERVER, K.CONNECTION})
_LIMITS = (K.RATE_LIMIT, K.QUOTA, K.BILLING)
# Statuses under which "this target does not serve that model" may replace the
# status's own kind; 401/403/429 and 5xx say something more specific.
_DEPLOYMENT_STATUSES = frozenset({400, 404, 409, 422})
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
# A daily or monthly limit whose own message names a wait under an hour is a
# rolling window (OpenAI RPD, Groq TPD): the same request succeeds after it.
_ROLLING_WINDOW_WAIT = 3600.0
_MODEL_WORDS = ("model", "deployment", "endpoint", "decommission", "engine")


def kind_for_status(status: int) -> Kind:
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
            return True  # choose() has ruled out overload wording next to limit evidence
        return kind in _BY_STATUS[status]
    if kind in _SERVER_SIDE:
        return strong
    return True


def _limit_evidence(sig: Signals) -> bool:
    return any(k in sig.strong or k in sig.text for k in _LIMITS)


def _refine(kind: Kind, sig: Signals) -> Kind:
    """An identifier says billing or quota but the words name a per-minute
    rate (Together's ``credit_limit`` "60 queries per minute", Cerebras'
    ``request_quota_exceeded`` "Requests per minute"): a rate limit."""
    if kind in (K.BILLING, K.QUOTA) and kind not in sig.text and sig.window() == "minute":
        return K.RATE_LIMIT
    return kind


def choose(
    status: int | None, sig: Signals, lowered: str, idents: list[str], wait: float | None
) -> Kind:
    """The kind the evidence points at: a location block first (whatever the
    status), then a request over a per-minute limit, then a model this target
    does not serve, then identifiers and wording by :data:`_PRIORITY`, each
    only where the status makes it plausible, else the status's own kind."""
    # A 2xx describes only the start of a stream: judge what it carries as if
    # no status had come.
    streamed = status is None or 200 <= status < 300
    base = kind_for_status(status) if status is not None and not streamed else None
    if sig.location:
        return K.PERMISSION
    if sig.oversized_for_rate and _allowed(K.PAYLOAD_TOO_LARGE, status, True, base):
        return K.PAYLOAD_TOO_LARGE
    if sig.deployment and (streamed or status in _DEPLOYMENT_STATUSES):
        return K.NOT_FOUND
    generic_status = streamed or status == 404
    limits = _limit_evidence(sig)
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
            if kind is K.OVERLOADED and limits:
                continue  # "high demand ... retry after 20 s" with a limit code is a limit
            if (
                kind in _SERVER_SIDE
                and base is not None
                and base not in _SERVER_SIDE
                # a 429 whose words speak only of load is the provider's capacity
                and not (kind is K.OVERLOADED and base is K.RATE_LIMIT)
            ):
                continue
        if _allowed(kind, status, strong, base):
            return _refine(kind, sig)
    if base is not None:
        return base
    if sig.weak:
        return sig.weak[0]
    return K.UNKNOWN


def cause_of(kind: Kind, status: int | None, sig: Signals, idents: list[str]) -> Cause | None:
    """What, within ``kind``, the hint should speak to."""
    if kind is K.PERMISSION and sig.location:
        return "location"
    if kind is K.NOT_FOUND and sig.deployment:
        return "deployment"
    if kind is K.OVERLOADED and status == 429:
        return "capacity"
    if kind is K.QUOTA and "day" in (sig.window(), window_of(" ".join(idents))):
        return "day"
    return None
