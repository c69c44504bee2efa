"""What an exception tells us: status, headers, body, message, and names.

Exceptions are recognised by their attributes and class names, never by
importing the packages that define them, so none of openai, anthropic,
litellm, langchain-core, httpx, httpx2, aiohttp, botocore or google-genai is
required. Every attribute access is guarded: an exception object from a
hostile or broken library must not make the classifier raise.
"""

from __future__ import annotations

import asyncio
import errno
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from resilience._classify.parsed import http_status
from resilience._core.failure import Kind

__all__ = ["ExcInfo", "inspect_exception"]

# Modules whose exceptions are provider or transport failures by nature.
_PROVIDER_MODULES = (
    "openai",
    "anthropic",
    "litellm",
    "langchain_core",
    "langchain_openai",
    "langchain_anthropic",
    "langchain_google",
    "langchain_aws",
    "langchain_mistralai",
    "langchain_groq",
    "httpx",
    "httpx2",
    "httpcore",
    "aiohttp",
    "botocore",
    "boto3",
    "google",
    "mistralai",
    "groq",
    "cohere",
    "together",
    "ollama",
    "requests",
    "urllib3",
    "fireworks",
    "replicate",
    "huggingface_hub",
    "vertexai",
    "azure",
    "xai_sdk",
    "cerebras",
    "websockets",
)
# Class-name fragments for transport failures (no HTTP response at all).
_TIMEOUT_NAMES = ("timeout", "timedout", "deadlineexceeded")
_CONNECTION_NAMES = (
    "connecterror",
    "connectionerror",
    "connectorerror",
    "connectionreset",
    "disconnected",
    "remoteprotocolerror",
    "networkerror",
    "readerror",
    "writeerror",
    "payloaderror",
    "incompleteread",
    "protocolerror",
    "clientoserror",
    "proxyerror",
    "sslerror",
    "connectionclosed",
    "chunkedencodingerror",
    "brokenpipe",
    "connectionrefused",
)
# OSErrors that are local file-system trouble (a bug), not the network.
_LOCAL_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ChildProcessError,
    ProcessLookupError,
)
_NETWORK_ERRNOS = {
    getattr(errno, n)
    for n in (
        "ECONNREFUSED",
        "ECONNRESET",
        "ECONNABORTED",
        "ENETUNREACH",
        "EHOSTUNREACH",
        "ENETDOWN",
        "EHOSTDOWN",
        "EPIPE",
        "ETIMEDOUT",
        "ENOTCONN",
        "EADDRNOTAVAIL",
    )
    if hasattr(errno, n)
}


@dataclass(slots=True)
class ExcInfo:
    """Facts gathered from an exception and its explicit causes."""

    recognised: bool = False
    status: int | None = None
    headers: Any = None
    body: Any = None
    message: str = ""
    names: list[str] = field(default_factory=list)
    transport: Kind | None = None  # TIMEOUT/CONNECTION when no response came back
    retry_after: float | None = None
    provider: str | None = None
    code: str | None = None


def _get(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # properties that raise, __getattr__ that explodes
        return None


def _str(exc: BaseException) -> str:
    try:
        return str(exc)[:20000]
    except Exception:
        return ""


def _mro(exc: BaseException) -> list[type]:
    try:
        return [c for c in type(exc).__mro__ if c not in (BaseException, Exception, object)]
    except Exception:
        return []


def _module_root(cls: type) -> str:
    try:
        return str(cls.__module__).split(".", 1)[0]
    except Exception:
        return ""


def _from_provider_module(classes: list[type]) -> bool:
    return any(_module_root(c) in _PROVIDER_MODULES for c in classes)


def _transport_kind(exc: BaseException, classes: list[type], names: list[str]) -> Kind | None:
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return Kind.TIMEOUT
    if _from_provider_module(classes):
        for name in names:
            if any(t in name for t in _TIMEOUT_NAMES):
                return Kind.TIMEOUT
        for name in names:
            if any(t in name for t in _CONNECTION_NAMES):
                return Kind.CONNECTION
    if isinstance(exc, ConnectionError | ssl.SSLError):
        return Kind.CONNECTION
    if isinstance(exc, OSError) and not isinstance(exc, _LOCAL_OS_ERRORS):
        err = _get(exc, "errno")
        if err == getattr(errno, "ETIMEDOUT", -1):
            return Kind.TIMEOUT
        if err is None or err in _NETWORK_ERRNOS or type(exc) is not OSError:
            return Kind.CONNECTION
    return None


def _headers_of(exc: BaseException, response: Any) -> Any:
    for source in (response, exc):
        h = _get(source, "headers")
        if h is not None and (isinstance(h, Mapping) or hasattr(h, "items")):
            return h
    if isinstance(response, Mapping):  # botocore: response["ResponseMetadata"]["HTTPHeaders"]
        meta = response.get("ResponseMetadata")
        if isinstance(meta, Mapping):
            return meta.get("HTTPHeaders")
    return None


def _body_of(exc: BaseException, response: Any) -> Any:
    body = _get(exc, "body")
    if body is not None:
        return body
    if isinstance(response, Mapping):  # botocore ClientError.response
        return dict(response)
    details = _get(exc, "details")  # google-genai APIError keeps the whole JSON here
    if isinstance(details, Mapping | list):
        return details
    response_json = _get(exc, "response_json")
    if isinstance(response_json, Mapping):
        return response_json
    if response is not None:
        try:
            is_read = _get(response, "is_stream_consumed")
            text = _get(response, "text") if is_read is not False else None
            if isinstance(text, str) and text:
                return text
        except Exception:
            return None
    return None


def _status_of(exc: BaseException, response: Any) -> int | None:
    for source, attr in (
        (exc, "status_code"),
        (exc, "status"),
        (exc, "http_status"),
        (exc, "code"),
        (response, "status_code"),
        (response, "status"),
    ):
        st = http_status(_get(source, attr))
        if st is not None:
            return st
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata")
        if isinstance(meta, Mapping):
            return http_status(meta.get("HTTPStatusCode"))
    return None


def _inspect_one(exc: BaseException, info: ExcInfo) -> None:
    classes = _mro(exc)
    names = [c.__name__.lower() for c in classes if isinstance(getattr(c, "__name__", None), str)]
    known = _from_provider_module(classes)
    response = _get(exc, "response")
    status = _status_of(exc, response)
    transport = _transport_kind(exc, classes, names)
    # litellm reports a connection failure as status 500 without any response.
    if (
        transport is not None
        and status is not None
        and known
        and status >= 500
        and (response is None or http_status(_get(response, "status_code")) is None)
    ):
        status = None
    if transport is not None and status is None:
        info.transport = info.transport or transport
    if status is not None and info.status is None:
        info.status = status
    if info.headers is None:
        info.headers = _headers_of(exc, response)
    if info.body is None:
        info.body = _body_of(exc, response)
    message = _get(exc, "message")
    text = message if isinstance(message, str) and message else _str(exc)
    if text and text not in info.message:
        info.message = f"{info.message} | {text}" if info.message else text
    if known or status is not None:
        for n in names:
            if n not in info.names:
                info.names.append(n)
    provider = _get(exc, "llm_provider")
    if isinstance(provider, str) and provider and info.provider is None:
        info.provider = provider
    elif known and info.provider is None and classes:
        root = _module_root(classes[0])
        if root in ("openai", "anthropic", "mistralai", "groq", "cohere", "together", "ollama"):
            info.provider = root
    cooldown = _get(exc, "cooldown_time")  # litellm RouterRateLimitError
    if isinstance(cooldown, int | float) and not isinstance(cooldown, bool) and cooldown >= 0:
        info.retry_after = float(cooldown)
        info.recognised = True
    for attr in ("code", "type"):
        v = _get(exc, attr)
        if isinstance(v, str) and v and http_status(v) is None and info.code is None and known:
            info.code = v
    if known or status is not None or transport is not None:
        info.recognised = True


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception, then what it explicitly wraps (``raise ... from``,
    tenacity's last attempt, an exception group's first member)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < 6 and current not in chain:
        chain.append(current)
        nxt = _get(current, "__cause__")
        if nxt is None:
            last = _get(current, "last_attempt")  # tenacity.RetryError
            try:
                nxt = last.exception() if last is not None else None
            except Exception:
                nxt = None
        if nxt is None:
            group = _get(current, "exceptions")
            if isinstance(group, tuple | list) and group and isinstance(group[0], BaseException):
                nxt = group[0]
        current = nxt if isinstance(nxt, BaseException) else None
    return chain


def inspect_exception(exc: BaseException) -> ExcInfo:
    """Gather what ``exc`` (and what it wraps) says. Never raises."""
    info = ExcInfo()
    try:
        for n, e in enumerate(_causes(exc)):
            if n > 0 and info.recognised and info.status is not None:
                break
            before = info.recognised
            _inspect_one(e, info)
            if n > 0 and not before and not info.recognised:
                continue
    except Exception:
        return info
    return info
