"""Error answers as each provider really words them: bodies, content types, headers.

OpenAI wraps errors as ``{"error": {"message", "type", "param", "code"}}``; Anthropic as
``{"type": "error", "error": {"type", "message"}}``. Gateways in front of both answer
some 5xx with HTML pages instead of JSON, and clients must survive that too.
"""

from __future__ import annotations

import json
from typing import Literal

from resilience.testing._limits import Decision, format_duration

__all__ = [
    "Style",
    "bad_request",
    "context_length",
    "injected",
    "midstream_event",
    "not_found_route",
    "rate_limited",
    "unsupported",
]

Style = Literal["openai", "anthropic"]
Answer = tuple[int, dict[str, str], bytes]

_JSON = "application/json"
_HTML = "text/html"

# status -> (openai type, openai code, openai message, anthropic type, anthropic message)
_TEXTS: dict[int, tuple[str, str | None, str, str, str]] = {
    400: (
        "invalid_request_error",
        "invalid_value",
        "Invalid value for 'messages[0].role': expected one of 'system', 'user', 'assistant', "
        "'tool'.",
        "invalid_request_error",
        "messages.0.role: Input should be 'user' or 'assistant'",
    ),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "authentication_error",
        "invalid x-api-key",
    ),
    402: (
        "insufficient_quota",
        "insufficient_quota",
        "You exceeded your current quota, please check your plan and billing details.",
        "billing_error",
        "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
        "Billing to upgrade or purchase credits.",
    ),
    403: (
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
        "not_found_error",
        "model: {model}",
    ),
    422: (
        "invalid_request_error",
        None,
        "Unprocessable request: 'messages' failed validation.",
        "invalid_request_error",
        "Unprocessable request: messages failed validation.",
    ),
    499: (
        "client_closed",
        None,
        "Client closed request.",
        "api_error",
        "Client closed request.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
        "api_error",
        "Internal server error",
    ),
    503: (
        "server_error",
        None,
        "The server is overloaded or not ready yet.",
        "overloaded_error",
        "Service Unavailable",
    ),
    529: (
        "overloaded_error",
        None,
        "The engine is currently overloaded, please try again later.",
        "overloaded_error",
        "Overloaded",
    ),
}

_NGINX_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_CLOUDFLARE_PAGE = (
    '<!DOCTYPE html>\n<html lang="en-US">\n<head>\n<title>{host} | {status}: {reason}</title>\n'
    '</head>\n<body>\n<div id="cf-error-details">\n<h1>{reason}</h1>\n'
    '<span class="cf-error-code">Error code {status}</span>\n'
    "<p>Cloudflare Ray ID: <strong>{ray}</strong></p>\n</div>\n</body>\n</html>\n"
)
# 502 alternates between an nginx page and a Cloudflare page, as both occur in the wild.
_HTML_PAGES: dict[int, tuple[str, str]] = {
    502: ("nginx", "Bad Gateway"),
    504: ("nginx", "Gateway Time-out"),
    520: ("cloudflare", "Web server is returning an unknown error"),
}


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _openai_body(message: str, type_: str, param: str | None, code: str | None) -> bytes:
    return _dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def _anthropic_body(type_: str, message: str, request_id: str) -> bytes:
    return _dumps(
        {"type": "error", "error": {"type": type_, "message": message}, "request_id": request_id}
    )


def _retry_headers(seconds: float) -> dict[str, str]:
    return {"retry-after": str(max(1, round(seconds + 0.4999)))}


def _html(status: int, serial: int, host: str) -> Answer:
    flavour, reason = _HTML_PAGES[status]
    ray = f"{serial:016x}-SJC"
    if status == 502 and serial % 2:
        flavour = "cloudflare"
    if flavour == "cloudflare":
        page = _CLOUDFLARE_PAGE.format(host=host, status=status, reason=reason, ray=ray)
        headers = {"content-type": _HTML, "server": "cloudflare", "cf-ray": ray}
    else:
        page = _NGINX_PAGE.format(status=status, reason=reason)
        headers = {"content-type": _HTML, "server": "nginx"}
    return status, headers, page.encode()


def injected(
    status: int, style: Style, *, model: str, request_id: str, serial: int, host: str
) -> Answer:
    """The answer for a failure drawn from a profile (or scripted), for ``status``."""
    if status in _HTML_PAGES:
        return _html(status, serial, host)
    if status == 429:
        # Without a configured limiter, pretend a small one ran dry.
        return _rate_limited_synthetic(style, model, request_id)
    texts = _TEXTS.get(status)
    if texts is None:
        texts = ("server_error", None, f"Upstream answered {status}.", "api_error", "Error")
    o_type, o_code, o_msg, a_type, a_msg = texts
    headers = {"content-type": _JSON}
    if status in (503, 529):
        headers.update(_retry_headers(1.0 if status == 503 else 2.0))
    if style == "openai":
        body = _openai_body(o_msg.format(model=model), o_type, None, o_code)
    else:
        body = _anthropic_body(a_type, a_msg.format(model=model), request_id)
    return status, headers, body


def _rate_limited_synthetic(style: Style, model: str, request_id: str) -> Answer:
    retry = 1.0
    if style == "openai":
        msg = (
            f"Rate limit reached for {model} in organization org-fake on requests per min "
            f"(RPM): Limit 500, Used 500, Requested 1. Please try again in 1s. Visit "
            "https://platform.openai.com/account/rate-limits to learn more."
        )
        headers = {
            "content-type": _JSON,
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "0",
            "x-ratelimit-reset-requests": format_duration(retry),
            **_retry_headers(retry),
        }
        return 429, headers, _openai_body(msg, "requests", None, "rate_limit_exceeded")
    msg = (
        "This request would exceed the rate limit for your organization of 50 requests per "
        "minute. For details, refer to: https://docs.claude.com/en/api/rate-limits."
    )
    headers = {
        "content-type": _JSON,
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "0",
        **_retry_headers(retry),
    }
    return 429, headers, _anthropic_body("rate_limit_error", msg, request_id)


def rate_limited(style: Style, d: Decision, *, model: str, request_id: str) -> Answer:
    """The 429 for a request the limiter refused (rate-limit headers are added elsewhere)."""
    headers = {"content-type": _JSON, **_retry_headers(d.retry_after)}
    if style == "openai":
        headers["retry-after-ms"] = str(max(1, round(d.retry_after * 1000)))
        if d.exceeded == "tokens":
            limit, used, unit = (
                d.tpm or 0,
                (d.tpm or 0) - d.remaining_tokens,
                "tokens per min (TPM)",
            )
        else:
            limit, used, unit = (
                d.rpm or 0,
                (d.rpm or 0) - d.remaining_requests,
                "requests per min (RPM)",
            )
        if d.too_large:
            msg = (
                f"Request too large for {model} in organization org-fake on {unit}: Limit "
                f"{limit}, Requested {d.requested}. The input or output tokens must be reduced "
                "in order to run successfully."
            )
        else:
            msg = (
                f"Rate limit reached for {model} in organization org-fake on {unit}: Limit "
                f"{limit}, Used {used}, Requested {d.requested}. Please try again in "
                f"{format_duration(d.retry_after)}. Visit "
                "https://platform.openai.com/account/rate-limits to learn more."
            )
        return (
            429,
            headers,
            _openai_body(msg, d.exceeded or "requests", None, "rate_limit_exceeded"),
        )
    if d.exceeded == "tokens":
        what = f"{d.tpm} input tokens per minute"
    else:
        what = f"{d.rpm} requests per minute"
    msg = (
        f"This request would exceed the rate limit for your organization of {what}. For "
        "details, refer to: https://docs.claude.com/en/api/rate-limits. You can see the "
        "response headers for current usage."
    )
    return 429, headers, _anthropic_body("rate_limit_error", msg, request_id)


_FEATURE_PARAM = {
    "tools": "tools",
    "json": "response_format",
    "stream": "stream",
    "continue": "continue_final_message",
}


def unsupported(style: Style, feature: str, *, model: str, request_id: str) -> Answer:
    """A 400 for a feature the model does not support, in the provider's wording."""
    headers = {"content-type": _JSON}
    if style == "openai":
        param = _FEATURE_PARAM.get(feature, feature)
        msg = (
            f"Unsupported parameter: '{param}' is not supported with this model. "
            f"Model '{model}' does not support {feature}."
        )
        code = "unsupported_value" if feature == "stream" else "unsupported_parameter"
        return 400, headers, _openai_body(msg, "invalid_request_error", param, code)
    if feature == "continue":
        # Claude 4.6 and later models refuse a prefill in these words.
        msg = (
            "This model does not support assistant message prefill. The conversation must "
            "end with a user message."
        )
        return 400, headers, _anthropic_body("invalid_request_error", msg, request_id)
    param = {"json": "output_format"}.get(feature, feature)
    msg = f"{param}: model '{model}' does not support {feature}."
    return 400, headers, _anthropic_body("invalid_request_error", msg, request_id)


def context_length(style: Style, *, model: str, limit: int, tokens: int, request_id: str) -> Answer:
    headers = {"content-type": _JSON}
    if style == "openai":
        msg = (
            f"This model's maximum context length is {limit} tokens. However, your messages "
            f"resulted in {tokens} tokens. Please reduce the length of the messages."
        )
        return (
            400,
            headers,
            _openai_body(msg, "invalid_request_error", "messages", "context_length_exceeded"),
        )
    msg = f"prompt is too long: {tokens} tokens > {limit} maximum"
    return 400, headers, _anthropic_body("invalid_request_error", msg, request_id)


def bad_request(style: Style, message: str, *, param: str | None, request_id: str) -> Answer:
    headers = {"content-type": _JSON}
    if style == "openai":
        return 400, headers, _openai_body(message, "invalid_request_error", param, None)
    return 400, headers, _anthropic_body("invalid_request_error", message, request_id)


def not_found_route(style: Style, method: str, path: str, request_id: str) -> bytes:
    if style == "openai":
        return _openai_body(f"Invalid URL ({method} {path})", "invalid_request_error", None, None)
    return _anthropic_body("not_found_error", "Not found", request_id)


def midstream_event(style: Style, request_id: str) -> bytes:
    """The SSE frame a provider sends when it fails after the stream began."""
    if style == "openai":
        err = {
            "error": {
                "message": _TEXTS[500][2],
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        return b"data: " + _dumps(err) + b"\n\n"
    err2 = {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": request_id,
    }
    return b"event: error\ndata: " + _dumps(err2) + b"\n\n"
