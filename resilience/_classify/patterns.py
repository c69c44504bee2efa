"""Wording patterns: what a message says, across providers.

Each kind has a handful of phrasings written for the meaning ("the key is
not valid", "context window", "does not support tools") rather than for one
provider's exact sentence, so that messages never seen before still land
right. Identifiers (error codes and types) live in :mod:`resilience._classify.codes`;
:func:`find_signals` reports both, and :mod:`resilience._classify.classify` weighs
them against the HTTP status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from resilience._classify.codes import ident_kind, location_ident, weak_kind
from resilience._classify.features import feature_named
from resilience._classify.gate import GatedPattern, gated
from resilience._classify.scope import Window, deployment_block, location_block, window_of
from resilience._core.failure import Kind
from resilience._core.headers import parse_duration

__all__ = ["Signals", "find_signals", "retry_after_from_text"]


# One alternative per line: easier to read and to extend than one long regex.
# No re.I: find_signals lowercases the text once, which makes the scan about
# three times cheaper than case-insensitive matching, and the gate skips a
# pattern when none of the words its alternatives need is in the text.
_lines = gated


# A single request larger than a per-minute limit (OpenAI, Groq): never fits.
_REQUEST_TOO_LARGE = _lines(r"""
\brequest (?:is )?too large for\b
\brequest too large\b.{0,80}\bper min
""")
_LIMIT_REQUESTED = re.compile(
    r"limit:?\s*~?([\d,]+)\s*,\s*(?:used:?\s*~?[\d,]+\s*,\s*)?requested:?\s*~?([\d,]+)"
)

_TEXT: list[tuple[Kind, GatedPattern]] = [
    (
        Kind.BILLING,
        _lines(r"""
        credit balance is too low
        insufficient (?:account |credit )?balance
        insufficient (?:credits?|funds)
        not enough (?:credits?|balance|funds)
        out of credits
        requires more credits
        (?:purchase|buy|add|top up) (?:more )?credits
        payment required
        billing (?:hard limit|details|issue|account|is not|not active|has not been|must be|problem)
        billing to be enabled
        balance (?:is )?(?:insufficient|too low|exhausted|negative)
        \boverdue\b
        account (?:is )?(?:not active|in arrears)
        free (?:tier|trial|credits?) (?:has |have )?(?:expired|ended|been used)
        insufficient credit
        credit limit (?:exceeded|reached|has been)
        included credits
        credits? (?:exhausted|depleted|used up|have run out)
    """),
    ),
    (
        Kind.CONTENT_FILTER,
        _lines(r"""
        content (?:management |moderation |safety )?polic
        content[_ ]filter
        safety (?:system|filter|settings|reasons|policy|guidelines)
        usage polic
        \bflagged\b
        \bmoderation\b
        responsible ?ai
        \bguardrail
        blocked (?:due to|by|because of|for) (?:safety|content|policy|moderation|guardrail)
        violat\w* (?:our|the|its) (?:usage|content|acceptable|terms)
        prohibited content
        (?:harmful|inappropriate|unsafe|sensitive) content
        output blocked
        \brecitation\b
    """),
    ),
    (
        Kind.CONTEXT_LENGTH,
        _lines(r"""
        context[_ ](?:length|window|limit|size)
        prompt (?:is )?too (?:long|large)
        input (?:is )?too long
        too long for (?:the )?(?:model|context)
        maximum (?:context|input|prompt|sequence|model) length
        max(?:imum)?[_ ](?:input|prompt)[_ ]tokens
        exceeds? (?:the )?(?:model'?s? )?(?:maximum |max )?(?:context|token limit|number of tokens)
        exceeds? (?:the )?(?:maximum |max )?(?:allowed )?(?:number of )?input tokens
        (?:input|prompt) token count
        token count.{0,60}exceed
        (?:prompt|input|messages?) (?:length |tokens? )?(?:exceeds|exceeded)
        reduce (?:the length|the number of tokens|your prompt|the prompt|the input|your input)
        tokens? \+ .{0,40}must be <=
        longer than (?:the )?(?:model'?s? )?(?:maximum )?context
        string too long\. expected a string with maximum length
        too many (?:input |prompt )?tokens[^.]{0,60}(?:prompt|input|context|maximum|cannot exceed)
        input length .{0,40}exceed
        requested \d+ tokens.{0,80}maximum
    """),
    ),
    (
        Kind.AUTH,
        _lines(r"""
        (?:invalid|incorrect|wrong|bad|malformed|expired|revoked|missing|unknown|no) api[ _-]?key
        (?:invalid|incorrect|wrong|expired|revoked|missing) (?:x-api-key|bearer token)
        (?:invalid|incorrect|wrong|expired|revoked|missing) access[ _]token
        (?:invalid|incorrect|wrong|expired|missing) auth(?:entication|orization)?[ _]token
        (?:invalid|incorrect|wrong|expired|missing) credentials?
        api[ _-]?key\b[^.;]{0,40}?\b(?:not valid|invalid|incorrect|wrong|expired|revoked|malformed)
        api[ _-]?key\b[^.;]{0,40}?\b(?:missing|not found|required|disabled|reported as leaked)
        api[ _-]?key\b[^.;]{0,40}?\bnot (?:provided|set|recogni[sz]ed)
        authentication (?:fail|error|required|is required|credentials|token)
        could not (?:validate|verify|resolve) (?:credentials|authentication)
        security token included in the request is (?:invalid|expired)
        signature (?:we calculated|does not match|expired)
        invalid authentication
        \bnot authenticated\b
        \bunauthenticated\b
        token (?:has )?expired
        didn'?t provide an api key
        must (?:provide|set|pass) (?:an? )?(?:api[ _]?key|token)
        api_key (?:client option )?must be set
        invalid (?:or expired )?token\b
        unregistered callers
    """),
    ),
    (
        Kind.UNSUPPORTED_FEATURE,
        _lines(r"""
        not supported
        \bunsupported\b
        (?:does|do) not support
        (?:doesn'?t|don'?t) support
        is not available (?:for|with) (?:this )?model
        not compatible with
        is not allowed (?:with|for) this model
        only supported
        only the default
        cannot be used with
        can only be used
        unrecognized request argument
        unknown parameter
        unrecognized (?:field|parameter|argument)
        extra (?:inputs|fields) (?:are )?not permitted
        cannot find field
        unexpected keyword argument
        is not a valid parameter
        does not accept
        (?:is )?not enabled for
    """),
    ),
    (
        Kind.NOT_FOUND,
        _lines(r"""
        model\b.{0,80}\b(?:not found|does not exist|doesn'?t exist)
        model\b.{0,80}\b(?:is not available|is not supported for)
        (?:no such|unknown|invalid|unrecognized) model
        not a valid model
        model (?:id(?:entifier)?|name) (?:provided )?(?:is )?(?:invalid|not valid|unknown)
        invalid model (?:id|identifier|name)
        \bdecommissioned\b
        no longer (?:available|supported|exists)
        \bnot found\b
        does not exist
        no endpoints? found
    """),
    ),
    (
        Kind.PERMISSION,
        _lines(r"""
        (?:do(?:es)?(?: not|n'?t)) have (?:access|permission)
        not (?:authorized|allowed|permitted|entitled) to (?:access|use|call)
        permission denied
        access (?:is |was )?denied
        \bforbidden\b
        (?:organization|account|project) (?:has been |is |was )?(?:disabled|on hold|restricted)
        (?:organization|account|project) (?:has been |is |was )?(?:suspended|deactivated|banned)
        must be verified
        requires? (?:organization )?verification
        not been granted
        insufficient permissions
        missing scopes?
        (?:is|are) blocked
    """),
    ),
    (
        Kind.PAYLOAD_TOO_LARGE,
        _lines(r"""
        request (?:entity |body |payload )?(?:is )?too large
        payload too large
        request exceeds (?:the )?maximum (?:allowed )?size
        max(?:imum)? (?:request |body )?(?:size|bytes)
        exceeded limit on max bytes
        (?:body|file|image) (?:is )?too large
        exceeds (?:the )?\d+(?:\.\d+)? ?[kmg]i?b\b
        \d+ bytes > \d+ bytes
    """),
    ),
    (
        Kind.QUOTA,
        _lines(r"""
        per[ _-]?day\b
        daily (?:limit|quota|request)
        \bquota (?:will )?resets?\b
        \b(?:rpd|tpd)\b
        monthly (?:limit|quota|spend|usage)
        spend(?:ing)? limit
        usage limit
        budget (?:has been )?exceeded
        exceeded (?:your|the) (?:monthly|daily)
    """),
    ),
    (
        Kind.RATE_LIMIT,
        _lines(r"""
        rate[ _-]?limit
        too many requests
        throttl
        slow down
        (?:requests|tokens|queries) per (?:minute|min|second|sec)
        \b(?:rpm|tpm|qpm|rps|tps|qps)\b
        per_?minute
        resource (?:has been )?exhausted
        too many (?:concurrent|parallel)
        concurrency limit
        please wait before trying again
        quota exceeded
        exceeded (?:your|the) (?:current )?quota
        too many tokens
    """),
    ),
    (
        Kind.OVERLOADED,
        _lines(r"""
        \boverload(?:ed)?\b
        over ?capacity
        \bat capacity\b
        capacity (?:exceeded|constraints|limit|issue)
        high demand
        temporarily unavailable
        service unavailable
        currently unavailable
        model is (?:currently )?loading
        unable to process your request
        no (?:available )?capacity
        \bbusy\b
    """),
    ),
    (
        Kind.GATEWAY,
        _lines(r"""
        bad gateway
        gateway time-?out
        upstream (?:connect|request timeout|prematurely closed|timed out)
        no healthy upstream
        origin (?:web server|is unreachable|dns)
        web server is down
        error code:? (?:50[24]|52[1-8]|530)\b
    """),
    ),
    (
        Kind.TIMEOUT,
        _lines(r"""
        timed? ?out\b
        \btimeout\b
        deadline (?:exceeded|expired)
        took too long
    """),
    ),
    (
        Kind.SERVER,
        _lines(r"""
        internal (?:server )?error
        \bserver error\b
        unexpected error
        something went wrong
        an error occurred while processing
    """),
    ),
    (
        Kind.CLIENT_CLOSED,
        _lines(r"""
        client closed (?:the )?request
        client disconnected
    """),
    ),
]

_RETRY_TEXT = re.compile(
    r"(?:try again|retry|wait|resets?|available again)\s+(?:again\s+)?(?:in|after|for)?\s*~?"
    r"(\d+(?:\.\d+)?\s*[a-zµ]*(?:\s*\d+(?:\.\d+)?\s*[a-zµ]+)*)",
    re.I,
)
_LONG_UNITS = [
    (re.compile(r"milliseconds?|msecs?", re.I), "ms"),
    (re.compile(r"seconds?|secs?", re.I), "s"),
    (re.compile(r"minutes?|mins?", re.I), "m"),
    (re.compile(r"hours?|hrs?", re.I), "h"),
]


@dataclass(slots=True)
class Signals:
    """Kinds each source points at, in the order found."""

    strong: list[Kind] = field(default_factory=list)
    weak: list[Kind] = field(default_factory=list)
    text: list[Kind] = field(default_factory=list)
    oversized_for_rate: bool = False
    feature: str | None = None
    location: bool = False  # the caller's country/region is refused
    deployment: bool = False  # the model is not served here in this form
    lowered: str = ""  # the scanned text, lowercased, for questions asked later

    def window(self) -> Window | None:
        """The limit window the words name (asked only when a verdict hinges on it)."""
        return window_of(self.lowered)


def find_signals(
    idents: list[str], text: str, param: str | None = None, lowered: str | None = None
) -> Signals:
    """What the identifiers and the wording say. Never raises.

    ``lowered`` is ``text[:8000].lower()`` when the caller has it already."""
    out = Signals()
    try:
        for name in idents:
            kind = ident_kind(name)
            if kind is not None:
                if kind not in out.strong:
                    out.strong.append(kind)
            else:
                weak = weak_kind(name)
                if weak is not None and weak not in out.weak:
                    out.weak.append(weak)
        sample = text[:8000]
        low = lowered if lowered is not None else sample.lower()
        if _REQUEST_TOO_LARGE.search(low):
            out.oversized_for_rate = True
        else:
            for m in _LIMIT_REQUESTED.finditer(low):
                limit, requested = (int(g.replace(",", "")) for g in m.groups())
                if requested > limit > 0:
                    out.oversized_for_rate = True
                    break
        out.text = [kind for kind, rx in _TEXT if rx.search(low)]
        out.location = any(location_ident(i) for i in idents) or location_block(low)
        out.deployment = deployment_block(low)
        out.lowered = low
        if Kind.UNSUPPORTED_FEATURE in out.text or Kind.UNSUPPORTED_FEATURE in out.strong:
            out.feature = feature_named(sample, param)
    except Exception:
        return out
    return out


def retry_after_from_text(text: str) -> float | None:
    """Seconds from wording such as "Please try again in 1m9.696s" or
    "retry after 55 seconds"; None when the text names no wait."""
    try:
        for m in _RETRY_TEXT.finditer(text[:8000]):
            raw = m.group(1)
            for rx, unit in _LONG_UNITS:
                raw = rx.sub(unit, raw)
            value = parse_duration(raw.replace(" ", ""))
            if value is not None and value < 7 * 86400:
                return value
    except Exception:
        return None
    return None
