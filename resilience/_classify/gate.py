"""Regexes that skip texts which cannot match them.

``classify`` runs on every failure, and its wording patterns are long
alternations that Python's ``re`` tries at every position of the text. Most
alternatives need a plain word ("credit", "overload", "per day"), so the
pattern first checks, with a cheap substring test, whether any of the words
its alternatives need is in the text at all, and runs the regex only then.

The words are read from the pattern source itself (one alternative per
line), so a new phrasing needs no second list to keep in sync: an
alternative whose needed word cannot be worked out disables the shortcut
for its whole pattern instead of risking a missed match.
"""

from __future__ import annotations

import re

__all__ = ["GatedPattern", "gated", "needed_words"]

_MIN_WORD = 3
_ESCAPED_LITERALS = set(".-+*?()[]{}|/\\'\"^$ :,;=<>!&%#@~`")
_QUANTIFIERS = "?*+{"


def _group_end(alt: str, start: int) -> int:
    """Index just past the parenthesised group that opens at ``start``."""
    depth = 0
    i = start
    while i < len(alt):
        c = alt[i]
        if c == "\\":
            i += 2
            continue
        if c == "[":
            close = alt.find("]", i + 1)
            i = close + 1 if close > 0 else len(alt)
            continue
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(alt)


def _optional_after(alt: str, i: int) -> bool:
    """Whether the atom ending before ``i`` may be absent (?, *, {0,...})."""
    if i >= len(alt):
        return False
    if alt[i] in "?*":
        return True
    return alt.startswith("{0", i)


def _literal_options(body: str) -> list[str] | None:
    """``a|b|c`` when every branch is a plain word; None otherwise."""
    options = body.split("|")
    if all(o and re.fullmatch(r"[a-z0-9 _'-]+", o) for o in options):
        return options
    return None


def needed_words(alt: str) -> tuple[str, ...] | None:
    """Words one of which every match of the regex alternative ``alt`` contains,
    or None when they cannot be worked out. Conservative: only literal runs at
    the top level of ``alt``, outside optional atoms, count."""
    runs: list[str] = []
    choices: list[list[str]] = []
    run = ""
    i = 0
    while i < len(alt):
        c = alt[i]
        if c == "\\" and i + 1 < len(alt):
            nxt = alt[i + 1]
            i += 2
            if nxt in _ESCAPED_LITERALS and not _optional_after(alt, i):
                run += nxt
                continue
            runs.append(run)
            run = ""
            continue
        if c == "(":
            end = _group_end(alt, i)
            body = alt[i + 1 : end - 1]
            if body.startswith("?:"):
                body = body[2:]
            optional = _optional_after(alt, end)
            options = None if optional or body.startswith("?") else _literal_options(body)
            if options is not None:
                choices.append(options)
            runs.append(run)
            run = ""
            i = end
            continue
        if c in "[.^$|":
            if c == "|":
                return None  # a top-level alternation: the line holds two alternatives
            runs.append(run)
            run = ""
            i = alt.find("]", i) + 1 if c == "[" else i + 1
            if i <= 0:
                return None
            continue
        if c in _QUANTIFIERS:
            # The quantified character may be absent or repeated: drop it.
            run = run[:-1]
            runs.append(run)
            run = ""
            i = alt.find("}", i) + 1 if c == "{" else i + 1
            if i <= 0:
                return None
            continue
        run += c
        i += 1
    runs.append(run)
    # Every run and every group found is needed; the longest is the most
    # selective (a text holds "not" far more often than "permitted").
    best = max((r.strip() for r in runs), key=len, default="")
    usable = [c for c in choices if all(len(o.strip()) >= 2 for o in c)]
    group = max(usable, key=lambda c: min(len(o.strip()) for o in c), default=None)
    if group is not None and min(len(o.strip()) for o in group) > len(best):
        return tuple(o.strip() for o in group)
    if len(best) >= _MIN_WORD:
        return (best,)
    return None


class GatedPattern:
    """A compiled alternation plus the words its alternatives need."""

    __slots__ = ("pattern", "words")

    def __init__(self, alternatives: list[str], flags: int = 0) -> None:
        self.pattern = re.compile("|".join(f"(?:{a})" for a in alternatives), flags)
        needed: list[str] = []
        for alt in alternatives:
            words = needed_words(alt)
            if words is None:
                self.words: tuple[str, ...] | None = None
                return
            needed.extend(w for w in words if w not in needed)
        self.words = tuple(needed)

    def search(self, text: str) -> re.Match[str] | None:
        """``pattern.search(text)``, skipped when no needed word is in ``text``."""
        words = self.words
        if words is not None and not any(map(text.__contains__, words)):
            return None
        return self.pattern.search(text)


def gated(block: str) -> GatedPattern:
    """A :class:`GatedPattern` from one alternative per line (lowercase text)."""
    return GatedPattern([line.strip() for line in block.strip().splitlines() if line.strip()])
