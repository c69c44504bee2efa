"""classify(): any provider failure becomes a :class:`Failure`.

(Foundation version: status codes, retry-after and transport exceptions. The
body- and SDK-aware classifier replaces the internals; the signature stays.)
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from resilience._failure import Failure, Kind

__all__ = ["STATUS_KINDS", "classify"]

STATUS_KINDS: dict[int, Kind] = {
    400: Kind.BAD_REQUEST,
    401: Kind.AUTH,
    402: Kind.BILLING,
    403: Kind.PERMISSION,
    404: Kind.NOT_FOUND,
    408: Kind.TIMEOUT,
    413: Kind.PAYLOAD_TOO_LARGE,
    422: Kind.BAD_REQUEST,
    429: Kind.RATE_LIMIT,
    499: Kind.CLIENT_CLOSED,
    500: Kind.SERVER,
    502: Kind.GATEWAY,
    503: Kind.OVERLOADED,
    504: Kind.GATEWAY,
    520: Kind.SERVER,
    529: Kind.OVERLOADED,
}


def _kind_for_status(status: int) -> Kind:
    if status in STATUS_KINDS:
        return STATUS_KINDS[status]
    if 500 <= status < 600:
        return Kind.SERVER
    if 400 <= status < 500:
        return Kind.BAD_REQUEST
    return Kind.UNKNOWN


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    if not headers:
        return None
    try:
        lower = {str(k).lower(): v for k, v in headers.items()}
        if "retry-after-ms" in lower:
            return float(lower["retry-after-ms"]) / 1000.0
        if "retry-after" in lower:
            return float(lower["retry-after"])
    except (TypeError, ValueError, AttributeError):
        return None
    return None


def classify(
    error: BaseException | None = None,
    *,
    status: int | None = None,
    headers: Mapping[str, Any] | None = None,
    body: Any = None,
    provider: str | None = None,
) -> Failure:
    """Classify an exception or a raw response. Never raises."""
    try:
        if error is not None:
            st = getattr(error, "status_code", None) or getattr(error, "status", None)
            if isinstance(st, int):
                status = st
                resp = getattr(error, "response", None)
                headers = headers or getattr(resp, "headers", None)
            elif isinstance(error, asyncio.TimeoutError | TimeoutError):
                return Failure.of(Kind.TIMEOUT, provider=provider, message="timed out")
            elif isinstance(error, ConnectionError | OSError):
                return Failure.of(Kind.CONNECTION, provider=provider, message=type(error).__name__)
        if status is None:
            return Failure.of(Kind.UNKNOWN, provider=provider)
        return Failure.of(
            _kind_for_status(status),
            status=status,
            retry_after=_retry_after(headers),
            provider=provider,
        )
    except Exception:  # the classifier never raises
        return Failure.of(Kind.UNKNOWN, status=status, provider=provider)
