"""What a message says about the scope of a refusal, beyond its kind.

Three questions decide verdicts that the error type and the status alone get
wrong:

* **where**: a block on the caller's country, region or territory is a
  permission problem that another provider or region may not have, whatever
  status carries it (Gemini sends it as 400 FAILED_PRECONDITION, OpenAI as
  403, Zed's gateway as 451);
* **which deployment**: a model that exists but is not served here (needs a
  dedicated endpoint, an inference profile, another serving region) is
  ``not_found`` for this target, not a malformed request;
* **which window**: a limit per minute or second frees up soon (a rate limit,
  whatever the error type calls it); a limit per day does not (a quota).

Every pattern runs on lowercased text (see :func:`resilience._classify.patterns.find_signals`).
"""

from __future__ import annotations

from typing import Literal

from resilience._classify.gate import gated

__all__ = ["Window", "deployment_block", "location_block", "window_of"]

Window = Literal["minute", "day"]


_lines = gated


# "region" alone is left out on purpose: "unsupported region us-west-3" and
# "not servable in region global" name the serving region, not the caller's.
_REFUSED = r"not (?:supported|allowed|available|permitted|offered)"
_WHERE = r"(?:countr|region|location|territor|area)"
_LOCATION = _lines(rf"""
\bcountr(?:y|ies)\b[^.;]{{0,60}}?\b{_REFUSED}
\bterritor(?:y|ies)\b[^.;]{{0,60}}?\b{_REFUSED}
\b(?:user|your|caller's|callers|request) (?:location|region|country)\b[^.;]{{0,30}}?\b{_REFUSED}
\b{_REFUSED}\b[^.;]{{0,40}}?\b(?:in|from) (?:your|the user'?s?|unsupported|certain) {_WHERE}
\bnot available from this data ?cent(?:er|re)\b
\bunsupported (?:countr|territor|location)
\bgeo-?(?:blocked|restricted|restriction)\b
\bonly available in (?:certain|supported|select) (?:countries|regions)
""")  # fmt: skip

# The model exists but this target does not serve it in this form.
_DEPLOYMENT = _lines(r"""
\bnot servable\b
\bnon-serverless model\b
\bdedicated endpoint\b
\bon-demand throughput\b
\binference profile\b
\b(?:model|endpoint|deployment)\b[^.;]{0,80}?\bnot (?:running|deployed)\b
\b(?:requested|this) model\b[^.;]{0,80}?\bnot supported by (?:any|this|the) provider
""")  # fmt: skip

_PER_MINUTE = _lines(r"""
\b(?:rpm|tpm|qpm|rps|tps|qps)\b
\bper[ _-]?(?:minute|min|second|sec)\b
\b(?:request|token|quer(?:y|ie)|call)s? ?(?:/|per) ?(?:minute|min|second|sec)\b
perminute
persecond
""")  # fmt: skip
_PER_DAY = _lines(r"""
\bper[ _-]?day\b
\bdaily\b
\b(?:rpd|tpd)\b
perday
""")  # fmt: skip


def location_block(lowered: str) -> bool:
    """True when the words refuse the caller's country, region or territory."""
    return _LOCATION.search(lowered) is not None


def deployment_block(lowered: str) -> bool:
    """True when the words say this target does not serve the model as asked."""
    return _DEPLOYMENT.search(lowered) is not None


def window_of(lowered: str) -> Window | None:
    """The limit window the words name; a day outranks a minute because a
    message naming both ("requests per day ... try again in 1 minute") is
    about the day."""
    if _PER_DAY.search(lowered):
        return "day"
    if _PER_MINUTE.search(lowered):
        return "minute"
    return None
