"""What to check, per kind of failure, in a sentence or two."""

from __future__ import annotations

from resilience._failure import Kind

__all__ = ["hint_for"]

_HINTS: dict[Kind, str] = {
    Kind.RATE_LIMIT: (
        "The provider is throttling this key or model. Back off and retry after the "
        "wait it asks for; if it keeps happening, send fewer requests in parallel, "
        "pick a lighter or faster model, or move this workload to another provider."
    ),
    Kind.QUOTA: (
        "A usage quota is used up (daily, monthly or per project). Retrying soon will "
        "not help: raise the quota with the provider or route to another provider."
    ),
    Kind.BILLING: (
        "Billing blocks this account: look at the provider console for missing credits, "
        "a failed payment, paused usage or an account restriction."
    ),
    Kind.AUTH: (
        "The provider did not accept the key (401: wrong, revoked or expired). Check the "
        "key belongs to this provider and, if needed, create a new one for the right "
        "project or organization."
    ),
    Kind.PERMISSION: (
        "The key is valid but may not use this model, route or region (403). Check the "
        "account's model access and that the endpoint is the right one for the provider."
    ),
    Kind.BAD_REQUEST: (
        "The provider rejected the request itself: malformed input or a parameter this "
        "model does not take. Retrying the same request will fail the same way. If "
        "another model accepts it, compare features; on a custom OpenAI-compatible "
        "endpoint, check the base URL, the key format and the model list."
    ),
    Kind.CONTEXT_LENGTH: (
        "Prompt plus requested output exceed the model's context window. Shorten the "
        "input, lower max tokens, or route to a model with a larger window."
    ),
    Kind.CONTENT_FILTER: (
        "A safety filter blocked the prompt or the completion. Retrying unchanged will "
        "not help; change the content or the model."
    ),
    Kind.UNSUPPORTED_FEATURE: (
        "This model does not support a feature the request uses (tools, structured "
        "JSON, streaming or a parameter). Turn that feature off for this model or pick "
        "one that supports it."
    ),
    Kind.PAYLOAD_TOO_LARGE: (
        "The request is larger than the provider accepts in one go (body size or a "
        "per-minute token limit). Split it, shrink it, or use a model with higher limits."
    ),
    Kind.CLIENT_CLOSED: (
        "The connection was closed before the provider answered (499), usually a "
        "client-side timeout. Allow more time or retry."
    ),
    Kind.NOT_FOUND: (
        "The model or route was not found (404). Check the exact model name, that the "
        "provider offers it, and that your account may use it."
    ),
    Kind.SERVER: (
        "The provider failed on its side (5xx). This is usually brief: retry with "
        "backoff, or switch to another model or provider for a while."
    ),
    Kind.OVERLOADED: (
        "The provider is overloaded or unavailable for now (503, 529). Retry with "
        "backoff or fail over to another provider until it recovers."
    ),
    Kind.GATEWAY: (
        "A gateway or proxy in front of the provider failed or timed out (502, 504). "
        "Usually transient: retry, or fail over if it persists."
    ),
    Kind.TIMEOUT: (
        "No answer arrived in time. Retry, allow a longer timeout, or ask for fewer output tokens."
    ),
    Kind.CONNECTION: (
        "The connection failed or was reset. Check the base URL and the network; it "
        "is usually transient, so retry."
    ),
    Kind.UNKNOWN: (
        "The failure could not be classified. Look at the status and message; on a "
        "custom endpoint, check the base URL, the key format and the model list."
    ),
}


def hint_for(kind: Kind, status: int | None = None) -> str:
    """A short, specific hint for ``kind``."""
    return _HINTS[Kind(kind)]
