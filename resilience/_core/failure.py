"""The failure taxonomy: what went wrong (:class:`Kind`), where it belongs
(:class:`Bucket`), and what to do about it (:class:`Failure`).

The buckets are the ones of the April 2026 provider error distribution, plus
``network`` and ``unknown``. A kind belongs to exactly one bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["BUCKET_OF", "KIND_DEFAULTS", "Bucket", "Failure", "Kind"]


class Bucket(StrEnum):
    AUTH_QUOTA = "auth_quota"
    CLIENT_ERROR = "client_error"
    NOT_FOUND = "not_found"
    SERVER_ERROR = "server_error"
    GATEWAY = "gateway"
    NETWORK = "network"
    UNKNOWN = "unknown"


class Kind(StrEnum):
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    BILLING = "billing"
    AUTH = "auth"
    PERMISSION = "permission"
    BAD_REQUEST = "bad_request"
    CONTEXT_LENGTH = "context_length"
    CONTENT_FILTER = "content_filter"
    UNSUPPORTED_FEATURE = "unsupported_feature"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    CLIENT_CLOSED = "client_closed"
    NOT_FOUND = "not_found"
    SERVER = "server"
    OVERLOADED = "overloaded"
    GATEWAY = "gateway"
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    UNKNOWN = "unknown"

    @property
    def bucket(self) -> Bucket:
        return BUCKET_OF[self]


BUCKET_OF: dict[Kind, Bucket] = {
    Kind.RATE_LIMIT: Bucket.AUTH_QUOTA,
    Kind.QUOTA: Bucket.AUTH_QUOTA,
    Kind.BILLING: Bucket.AUTH_QUOTA,
    Kind.AUTH: Bucket.AUTH_QUOTA,
    Kind.PERMISSION: Bucket.AUTH_QUOTA,
    Kind.BAD_REQUEST: Bucket.CLIENT_ERROR,
    Kind.CONTEXT_LENGTH: Bucket.CLIENT_ERROR,
    Kind.CONTENT_FILTER: Bucket.CLIENT_ERROR,
    Kind.UNSUPPORTED_FEATURE: Bucket.CLIENT_ERROR,
    Kind.PAYLOAD_TOO_LARGE: Bucket.CLIENT_ERROR,
    Kind.CLIENT_CLOSED: Bucket.CLIENT_ERROR,
    Kind.NOT_FOUND: Bucket.NOT_FOUND,
    Kind.SERVER: Bucket.SERVER_ERROR,
    Kind.OVERLOADED: Bucket.SERVER_ERROR,
    Kind.GATEWAY: Bucket.GATEWAY,
    Kind.TIMEOUT: Bucket.NETWORK,
    Kind.CONNECTION: Bucket.NETWORK,
    Kind.UNKNOWN: Bucket.UNKNOWN,
}

# (retryable, failover, trips_breaker) when nothing more specific is known.
# retryable: the same request to the same target may succeed later.
# failover: another provider or model may succeed now.
# trips_breaker: evidence that the target itself is unhealthy.
KIND_DEFAULTS: dict[Kind, tuple[bool, bool, bool]] = {
    Kind.RATE_LIMIT: (True, True, False),
    Kind.QUOTA: (False, True, False),
    Kind.BILLING: (False, True, False),
    Kind.AUTH: (False, True, False),
    Kind.PERMISSION: (False, True, False),
    Kind.BAD_REQUEST: (False, False, False),
    Kind.CONTEXT_LENGTH: (False, True, False),
    Kind.CONTENT_FILTER: (False, False, False),
    Kind.UNSUPPORTED_FEATURE: (False, True, False),
    Kind.PAYLOAD_TOO_LARGE: (False, True, False),
    Kind.CLIENT_CLOSED: (True, True, False),
    Kind.NOT_FOUND: (False, True, False),
    Kind.SERVER: (True, True, True),
    Kind.OVERLOADED: (True, True, True),
    Kind.GATEWAY: (True, True, True),
    Kind.TIMEOUT: (True, True, True),
    Kind.CONNECTION: (True, True, True),
    Kind.UNKNOWN: (False, True, False),
}


@dataclass(frozen=True, slots=True)
class Failure:
    """The classifier's verdict on one failed attempt.

    Build one with :meth:`of` to get the kind's defaults for the flags and
    the bucket; the constructor keeps ``bucket`` consistent with ``kind``.
    """

    kind: Kind
    bucket: Bucket
    status: int | None = None
    retryable: bool = False
    failover: bool = False
    trips_breaker: bool = False
    retry_after: float | None = None
    code: str | None = None
    message: str = ""
    hint: str = ""
    provider: str | None = None
    feature: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        kind = Kind(self.kind)
        object.__setattr__(self, "kind", kind)
        expected = BUCKET_OF[kind]
        if Bucket(self.bucket) is not expected:
            raise ValueError(
                f"Failure.bucket: {self.bucket!r} does not match kind {kind.value!r} "
                f"(expected {expected.value!r})"
            )
        object.__setattr__(self, "bucket", expected)

    @classmethod
    def of(
        cls,
        kind: Kind | str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        message: str = "",
        hint: str | None = None,
        provider: str | None = None,
        feature: str | None = None,
        retryable: bool | None = None,
        failover: bool | None = None,
        trips_breaker: bool | None = None,
    ) -> Failure:
        """A failure of ``kind`` with that kind's default flags, bucket and hint."""
        k = Kind(kind)
        r, f, t = KIND_DEFAULTS[k]
        if hint is None:
            from resilience._classify.hints import hint_for

            hint = hint_for(k, status)
        return cls(
            kind=k,
            bucket=BUCKET_OF[k],
            status=status,
            retryable=r if retryable is None else retryable,
            failover=f if failover is None else failover,
            trips_breaker=t if trips_breaker is None else trips_breaker,
            retry_after=retry_after,
            code=code,
            message=message,
            hint=hint,
            provider=provider,
            feature=feature,
        )
