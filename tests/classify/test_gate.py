"""The literal gate in front of the wording patterns: the words it reads from a
pattern are ones every match needs, so skipping a text without them never
changes a verdict; and every classifier pattern is gated (the speed relies on it)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from resilience._classify import patterns as _patterns
from resilience._classify import scope as _scope
from resilience._classify.bodies import parse_body
from resilience._classify.gate import GatedPattern, gated, needed_words
from tests.classify.cases import CASES

PATTERNS: dict[str, GatedPattern] = {
    **{f"text:{kind.value}": rx for kind, rx in _patterns._TEXT},
    "request_too_large": _patterns._REQUEST_TOO_LARGE,
    "scope:location": _scope._LOCATION,
    "scope:deployment": _scope._DEPLOYMENT,
    "scope:per_minute": _scope._PER_MINUTE,
    "scope:per_day": _scope._PER_DAY,
}


@pytest.mark.parametrize(
    ("alternative", "words"),
    [
        (r"credit balance is too low", ("credit balance is too low",)),
        (r"insufficient (?:account |credit )?balance", ("insufficient",)),
        (r"\boverload(?:ed)?\b", ("overload",)),
        (r"\b(?:rpm|tpm|qps)\b", ("rpm", "tpm", "qps")),
        (r"timed? ?out\b", ("time",)),
        (r"didn'?t provide an api key", ("t provide an api key",)),
        # both groups are needed; the one whose shortest word is longest is kept
        (r"(?:organization|account) (?:is )?(?:disabled|suspended)", ("disabled", "suspended")),
        (r"tokens? \+ .{0,40}must be <=", ("must be <=",)),
        (r"\bper[ _-]?day\b", ("per",)),
        (r"a|b", None),  # two alternatives on one line: cannot tell
        (r"\d+\s+\w+", None),  # nothing literal
        (r"(?:a|bc)(?:d|e)", None),  # groups too short to help
    ],
)
def test_needed_words_are_read_from_the_pattern(alternative: str, words: object) -> None:
    assert needed_words(alternative) == words


def test_an_alternative_without_needed_words_disables_the_gate() -> None:
    g = gated(r"""
        needle
        \d{3}
    """)
    assert g.words is None
    assert g.search("status 404") is not None  # the ungated alternative still matches


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_every_classifier_pattern_is_gated(name: str) -> None:
    """A new phrasing whose needed word cannot be read would silently make
    every classify() call scan that pattern: write it with a plain word."""
    assert PATTERNS[name].words, name


def _texts() -> list[str]:
    out = []
    for case in CASES:
        parsed = parse_body(case["body"])
        out.append(" \n ".join(parsed.texts)[:8000].lower())
    return out


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_gated_and_plain_search_agree_on_every_real_case(name: str) -> None:
    gp = PATTERNS[name]
    for text in _texts():
        assert bool(gp.search(text)) == bool(gp.pattern.search(text)), (name, text)


# Fragments of the patterns' own vocabulary, so generated texts hit the
# alternatives often instead of almost never.
_WORDS = sorted(
    {w for gp in PATTERNS.values() for w in (gp.words or ())}
    | {"not supported", "per minute", "per day", "your country", "model", "endpoint", "quota"}
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(_WORDS), st.text(alphabet="abcdefgh _-.'0123456789", max_size=6)),
        max_size=10,
    ).map(" ".join)
)
def test_gated_and_plain_search_agree_on_generated_texts(text: str) -> None:
    for name, gp in PATTERNS.items():
        assert bool(gp.search(text)) == bool(gp.pattern.search(text)), (name, text)


def test_gate_compiles_the_same_alternation_as_one_regex() -> None:
    g = gated("""
        alpha beta
        gamma
    """)
    assert g.pattern.pattern == "(?:alpha beta)|(?:gamma)"
    assert isinstance(g.pattern, re.Pattern)
