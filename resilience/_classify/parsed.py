"""The provider-neutral shape of an error body, and the small readers the
body walker and the vendor-field readers share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["ParsedBody", "http_status", "ident", "text_of"]


@dataclass(slots=True)
class ParsedBody:
    """What an error body says, provider-neutral."""

    message: str = ""
    code: str | None = None
    type: str | None = None
    status: int | None = None
    param: str | None = None
    retry_delay: float | None = None
    provider_name: str | None = None
    idents: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    html: bool = False
    stream: bool = False
    upstream_message: str = ""
    reason: str | None = None  # Google ErrorInfo.reason: more specific than the status
    status_text: str | None = None  # Google/gRPC status name such as RESOURCE_EXHAUSTED

    @property
    def empty(self) -> bool:
        return not (self.message or self.code or self.type or self.idents or self.texts)


def ident(value: Any) -> str:
    """Normalise an error identifier: ``com.amazon#ThrottlingException:http://..``
    becomes ``throttlingexception``; ``RESOURCE_EXHAUSTED`` stays recognisable."""
    s = str(value).strip()
    if "#" in s:
        s = s.rsplit("#", 1)[1]
    if ":" in s and not s.startswith("http"):
        s = s.split(":", 1)[0]
    return s.strip().lower()


def http_status(value: Any) -> int | None:
    """An HTTP status from an int or a string of digits; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 100 <= value <= 599:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        n = int(value.strip())
        return n if 100 <= n <= 599 else None
    return None


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, list | tuple):  # FastAPI validation details, lists of messages
        return "; ".join(text_of(v.get("msg") if isinstance(v, dict) else v) for v in value[:5])
    return str(value)[:2000]
