"""What to check, per kind of failure, in a sentence or two.

The hints cover what an operator needs first: 401 (the key) versus 403
(the key's access), the billing checks behind a 402, the model name and
access behind a 404, backoff and load shedding for a 429, turning off
structured JSON, streaming or tools when only one model rejects a request,
5xx as transient, and the setup of custom OpenAI-compatible endpoints. Some
causes change the advice within a kind: a block on the caller's location, a
model this target does not serve as asked, a 429 that is the provider's
capacity rather than the caller's rate, a per-day quota, and a failure
inside a stream that had already started.
"""

from __future__ import annotations

from typing import Literal

from resilience._core.failure import Kind

__all__ = ["Cause", "hint_for"]

_HINTS: dict[Kind, str] = {
    Kind.RATE_LIMIT: (
        "The provider is throttling this key or model. Back off and retry after the "
        "wait it asks for; if it keeps happening, send fewer requests in parallel, "
        "pick a lighter or faster model, or move this workload to another provider."
    ),
    Kind.QUOTA: (
        "A usage quota is used up (daily, monthly or a spend cap). Retrying soon will "
        "not help: raise the quota with the provider or route to another provider."
    ),
    Kind.BILLING: (
        "Billing blocks this account. In the provider console, check for missing "
        "credits, a failed payment, paused usage or an account restriction."
    ),
    Kind.AUTH: (
        "The provider did not accept the credentials (401: wrong, revoked or expired "
        "key). Check the key is saved for this provider and still valid; if in doubt, "
        "create a new one for the right project or organization."
    ),
    Kind.PERMISSION: (
        "The key is valid but may not use this model, route or region (403). Check "
        "the account's access to the model and that the endpoint is the right one "
        "for this provider."
    ),
    Kind.BAD_REQUEST: (
        "The provider rejected the request itself (malformed input, an unsupported "
        "parameter or a model-specific restriction); sending it again will fail the "
        "same way. If another model accepts it, the difference is compatibility: try "
        "turning off structured JSON, streaming or tools for this model."
    ),
    Kind.CONTEXT_LENGTH: (
        "Prompt plus requested output exceed the model's context window. Shorten the "
        "input, lower the output token limit, or route to a model with a larger window."
    ),
    Kind.CONTENT_FILTER: (
        "A safety filter blocked the prompt or the completion. Retrying unchanged will "
        "not help; change the content, or the model if its filter is stricter."
    ),
    Kind.UNSUPPORTED_FEATURE: (
        "This model does not take a feature the request uses (tools, structured JSON, "
        "streaming, images or a parameter). Turn it off for this model, or pick a "
        "model that supports it."
    ),
    Kind.PAYLOAD_TOO_LARGE: (
        "This single request is larger than the provider accepts (body size, or more "
        "tokens than the per-minute limit allows at once). Split or shrink it, or use "
        "a model or tier with higher limits; waiting will not help."
    ),
    Kind.CLIENT_CLOSED: (
        "The connection was closed before the provider answered (499), usually a "
        "client-side timeout or cancellation. Allow more time, then retry."
    ),
    Kind.NOT_FOUND: (
        "The model or route was not found (404). Check the exact model name, that "
        "this provider offers that model, and that your account has access to it."
    ),
    Kind.SERVER: (
        "The provider failed on its side (5xx: instability, maintenance). Usually "
        "brief: retry with backoff, or switch to another model for a while."
    ),
    Kind.OVERLOADED: (
        "The provider is overloaded or unavailable for now (503, 529). Retry with "
        "backoff or fail over to another provider until it recovers."
    ),
    Kind.GATEWAY: (
        "A gateway or proxy in front of the provider failed or timed out (502, 504, "
        "Cloudflare 52x). Usually transient: retry, or fail over if it persists."
    ),
    Kind.TIMEOUT: (
        "No answer arrived in time. Retry, allow a longer timeout, or ask for fewer "
        "output tokens; repeated timeouts often mean the provider is struggling."
    ),
    Kind.CONNECTION: (
        "The connection failed or was reset before a response. Check the base URL, "
        "DNS and proxy settings; if those are right it is usually transient, so retry."
    ),
    Kind.UNKNOWN: (
        "The failure could not be classified. Read the status and message; on a "
        "custom endpoint, check the base URL, the key format and the model list."
    ),
}

_CUSTOM = (
    " On a custom OpenAI-compatible endpoint, also check the base URL, the key "
    "format it expects, that the model is in its model list, and its compatibility limits."
)
_CUSTOM_KINDS = frozenset(
    {
        Kind.AUTH,
        Kind.BAD_REQUEST,
        Kind.NOT_FOUND,
        Kind.UNSUPPORTED_FEATURE,
        Kind.CONNECTION,
    }
)
# Providers with their own native API; anything else is treated as a custom
# (usually OpenAI-compatible) endpoint.
_NATIVE = frozenset(
    {
        *("openai", "azure", "azure_openai", "anthropic", "google", "gemini", "vertex"),
        *("vertex_ai", "bedrock", "aws", "groq", "mistral", "openrouter", "deepseek", "xai"),
        *("together", "together_ai", "cohere", "fireworks", "fireworks_ai", "perplexity"),
        "cerebras",
    }
)
# Causes that change what to check, beyond the kind itself.
Cause = Literal["location", "deployment", "capacity", "day"]
_CAUSE_HINTS: dict[str, str] = {
    "location": (
        "The provider refuses requests from this country or region, whatever the "
        "status says. Retrying from here fails the same way: route the call to another "
        "provider, or to a region or proxy location the provider serves."
    ),
    "deployment": (
        "This target does not serve the model as requested: it needs a dedicated "
        "endpoint, an inference profile (cross-region ID), or another serving region. "
        "Use the model ID the provider names, start the endpoint, or route to a target "
        "that serves this model."
    ),
    "capacity": (
        "The provider says it is out of capacity for this model (429, but not your own "
        "rate limit). Back off and retry, or fail over to another provider or model "
        "until it recovers; slowing this key down will not help."
    ),
    "day": (
        "A per-day limit is used up. It frees at the provider's daily reset, not in "
        "seconds: route to another provider or model until then, or raise the limit."
    ),
}
_MID_STREAM = (
    " The failure came inside a stream that had already started (HTTP 200): retry or "
    "fail over only if no chunk has reached the caller yet."
)
_FEATURE_HINTS = {
    "tools": "Turn off tools (function calling) for this model, or pick one that supports them.",
    "json": "Turn off structured JSON (response_format) for this model, or pick one that "
    "supports it.",
    "stream": "Turn off streaming for this model, or pick one that supports it.",
}


def hint_for(
    kind: Kind,
    status: int | None = None,
    *,
    feature: str | None = None,
    provider: str | None = None,
    cause: Cause | None = None,
    mid_stream: bool = False,
) -> str:
    """A short, specific hint for ``kind``; names the feature to turn off, says
    what a location block, a model this target does not serve, a capacity 429
    or a per-day quota means (``cause``), warns that a mid-stream failure may
    be retried only before the first chunk, and adds the custom-endpoint checks
    when ``provider`` is not a native one."""
    k = Kind(kind)
    text = _CAUSE_HINTS[cause] if cause in _CAUSE_HINTS else _HINTS[k]
    if mid_stream:
        text += _MID_STREAM
    if k is Kind.UNSUPPORTED_FEATURE and feature:
        text = f"This model rejects '{feature}'. " + _FEATURE_HINTS.get(
            feature, f"Drop or change '{feature}' for this model, or pick one that accepts it."
        )
    if provider and k in _CUSTOM_KINDS and provider.strip().lower() not in _NATIVE:
        text += _CUSTOM
    return text
