"""Secret redaction for anything that leaves the library as text.

Provider error messages sometimes echo the credential they rejected
("Incorrect API key provided: sk-proj-abc...") or carry URLs with a
``?key=AIza...`` query. Everything the classifier puts in
``Failure.message`` goes through :func:`redact` first, and is cut short so
that a provider quoting the prompt back does not leak it either.
"""

from __future__ import annotations

import re

__all__ = ["MASK", "redact", "shorten"]

MASK = "***"

# Order matters: specific prefixes first so the mask keeps the useful prefix
# (it tells a reader *which* provider's key was involved, not the key).
_PREFIXED = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(sk-ant-(?:api\d\d-|admin\d\d-)?|sk-(?:proj-|svcacct-|admin-|or-v1-)?|rk-|"
    r"AIza|gsk_|xai-|hf_|r8_|pplx-|nvapi-|csk-|fw_|ghp_|gho_|github_pat_|"
    r"sk_live_|sk_test_|pk_live_|glpat-|xox[abpr]-)"
    # Even a masked key ("sk-abc...xyz") keeps its real first characters.
    r"[A-Za-z0-9_\-*]{3,}(?:\.{3}[A-Za-z0-9]{2,})?"
    r"|(?<![A-Za-z0-9])(AKIA|ASIA)[0-9A-Z]{16}(?![A-Za-z0-9])"
)
_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[A-Za-z0-9._~+/\-]{6,}=*")
# name=value / name: value for credential-like names, in JSON, headers or URLs.
_NAMED = re.compile(
    r"(?i)(?P<name>[\"']?(?:x-api-key|api[_-]?key|apikey|x-goog-api-key|api-key|"
    r"authorization|proxy-authorization|access[_-]?token|refresh[_-]?token|"
    r"id[_-]?token|client[_-]?secret|secret[_-]?key|secret|password|passwd|"
    r"session[_-]?token|x-amz-security-token|key)[\"']?"
    r"\s*[:=]\s*)(?P<q>[\"']?)(?P<value>(?:bearer\s+)?[^\s\"',;&}\]]{3,})"
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}")
# Anything long and random-looking: mixed case and digits, 32+ characters.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-+/]{32,}={0,2}(?![A-Za-z0-9_\-])")
_SPACES = re.compile(r"\s+")


def _mask_long(m: re.Match[str]) -> str:
    s = m.group(0)
    has_upper = any(c.isupper() for c in s)
    has_lower = any(c.islower() for c in s)
    has_digit = any(c.isdigit() for c in s)
    return MASK if has_upper and has_lower and has_digit else s


def _mask_named(m: re.Match[str]) -> str:
    value = m.group("value")
    if value == MASK or value.endswith(MASK) or value.lower() in ("null", "none", "true", "false"):
        return m.group(0)
    return f"{m.group('name')}{m.group('q')}{MASK}"


# What each pattern cannot match without: a substring test is far cheaper than
# trying a long alternation at every position. Only plain ASCII text takes
# these shortcuts, because case-insensitive matching of other scripts does not
# always agree with str.lower() (every pattern runs on anything else).
_PREFIX_HINTS = (
    *("sk-", "rk-", "AIza", "gsk_", "xai-", "hf_", "r8_", "pplx-", "nvapi-", "csk-", "fw_"),
    *("ghp_", "gho_", "github_pat_", "sk_", "pk_live_", "glpat-", "xox", "AKIA", "ASIA"),
)
_NAME_HINTS = ("key", "authorization", "token", "secret", "passw")


def redact(text: str) -> str:
    """``text`` with API keys, bearer tokens and key-shaped strings masked."""
    try:
        if not text:
            return ""
        fast = text.isascii()
        low = text.lower() if fast else ""
        out = text
        if not fast or any(map(text.__contains__, _PREFIX_HINTS)):
            out = _PREFIXED.sub(lambda m: (m.group(1) or m.group(2)) + MASK, out)
        if not fast or "bearer" in low:
            out = _BEARER.sub(lambda m: m.group(1) + m.group(2) + MASK, out)
        if not fast or "eyJ" in text:
            out = _JWT.sub(MASK, out)
        if not fast or (("=" in text or ":" in text) and any(map(low.__contains__, _NAME_HINTS))):
            out = _NAMED.sub(_mask_named, out)
        if not fast or any(len(word) >= 32 for word in text.split()):
            out = _LONG_TOKEN.sub(_mask_long, out)
        return out
    except Exception:
        return MASK


def shorten(text: str, limit: int = 300) -> str:
    """Redacted, one line, at most ``limit`` characters."""
    try:
        one_line = _SPACES.sub(" ", redact(text)).strip()
    except Exception:
        return ""
    if len(one_line) <= limit:
        return one_line
    return one_line[: max(0, limit - 1)].rstrip() + "…"
