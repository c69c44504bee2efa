"""Failure profiles (what a provider throws, and how often) and scripted outages."""

from __future__ import annotations

import bisect
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

from resilience._core.errors import ConfigError
from resilience.testing._faults import StreamFault

__all__ = ["SPECIAL_OUTCOMES", "Outage", "Outcome", "Profile"]

# An outcome is an HTTP status, one of these behaviours that have none, or a
# StreamFault (a 200 stream that breaks later on).
Outcome = int | str | StreamFault
SPECIAL_OUTCOMES = frozenset({"reset", "hang", "midstream"})
_EXPECTED = "an HTTP status (100-599), 'reset'/'hang'/'midstream' or a StreamFault ('cut:N', ...)"

# Provider-emitted failures on the Requesty gateway in April 2026, in percent
# (shared/seeds/provider-error-distribution-2026-04.txt).
_REQUESTY_2026_04: dict[Outcome, float] = {
    429: 65.83,
    400: 19.40,
    403: 9.41,
    503: 2.19,
    502: 1.81,
    529: 0.52,
    422: 0.24,
    500: 0.21,
    404: 0.21,
    402: 0.07,
    504: 0.06,
    401: 0.02,
    520: 0.02,
    499: 0.01,
}

_NAMED: dict[str, dict[Outcome, float]] = {
    "requesty-2026-04": _REQUESTY_2026_04,
    # Only the availability tail: what a breaker and fallback must absorb.
    "outages": {503: 2.19, 502: 1.81, 529: 0.52, 500: 0.21, 504: 0.06, 520: 0.02, "reset": 0.5},
    "rate-limits": {429: 1.0},
}


def check_outcome(where: str, outcome: object) -> Outcome:
    if isinstance(outcome, bool):
        raise ConfigError(where, outcome, _EXPECTED)
    if isinstance(outcome, int) and 100 <= outcome <= 599:
        return outcome
    if isinstance(outcome, StreamFault):
        return outcome
    if isinstance(outcome, str):
        if outcome in SPECIAL_OUTCOMES:
            return outcome
        fault = StreamFault.parse(outcome)
        if fault is not None:
            return fault
    raise ConfigError(where, outcome, _EXPECTED)


@dataclass(frozen=True)
class Profile:
    """A mix of failures, as relative weights: ``Profile(mix={429: 3, 503: 1})``.

    Keys are HTTP statuses or ``"reset"``, ``"hang"``, ``"midstream"``. The fake
    provider samples one outcome from the mix for each request it decides to fail
    (``failure_rate``), with its seeded generator.
    """

    mix: Mapping[Outcome, float]
    name: str = "custom"
    _outcomes: tuple[Outcome, ...] = field(init=False, repr=False, compare=False)
    _cumulative: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.mix, Mapping) or not self.mix:
            raise ConfigError("profile.mix", self.mix, "a non-empty mapping {status: weight}")
        outcomes: list[Outcome] = []
        cumulative: list[float] = []
        total = 0.0
        for outcome, weight in self.mix.items():
            outcomes.append(check_outcome("profile.mix", outcome))
            if not isinstance(weight, int | float) or weight < 0 or weight != weight:
                raise ConfigError(f"profile.mix[{outcome!r}]", weight, "a weight >= 0")
            total += float(weight)
            cumulative.append(total)
        if total <= 0:
            raise ConfigError("profile.mix", self.mix, "at least one positive weight")
        object.__setattr__(self, "mix", dict(self.mix))
        object.__setattr__(self, "_outcomes", tuple(outcomes))
        object.__setattr__(self, "_cumulative", tuple(c / total for c in cumulative))

    @classmethod
    def named(cls, name: str) -> Profile:
        """A built-in profile: ``requesty-2026-04``, ``outages``, ``rate-limits``."""
        try:
            return cls(mix=_NAMED[name], name=name)
        except KeyError:
            raise ConfigError("profile", name, f"one of {sorted(_NAMED)}") from None

    @classmethod
    def names(cls) -> list[str]:
        return sorted(_NAMED)

    @classmethod
    def coerce(cls, value: Profile | str | Mapping[Outcome, float] | None) -> Profile | None:
        if value is None or isinstance(value, Profile):
            return value
        if isinstance(value, str):
            return cls.named(value)
        if isinstance(value, Mapping):
            return cls(mix=value)
        raise ConfigError("profile", value, "None, a profile name, a mapping or a Profile")

    def probabilities(self) -> dict[Outcome, float]:
        """Each outcome's share of the failures (sums to 1)."""
        shares: dict[Outcome, float] = {}
        previous = 0.0
        for outcome, c in zip(self._outcomes, self._cumulative, strict=True):
            shares[outcome] = shares.get(outcome, 0.0) + c - previous
            previous = c
        return shares

    def sample(self, rng: random.Random) -> Outcome:
        """One failure outcome, drawn with ``rng``."""
        i = bisect.bisect_right(self._cumulative, rng.random())
        return self._outcomes[min(i, len(self._outcomes) - 1)]


@dataclass(frozen=True)
class Outage:
    """A window ``[start, end)`` (seconds since the server started, on its clock) in
    which requests (for ``models``, or all) get ``status``: an HTTP status such as
    503 or 529, ``"reset"`` (connection dropped) or ``"hang"`` (no answer)."""

    start: float
    end: float
    status: Outcome = 503
    models: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.start, int | float) or self.start < 0:
            raise ConfigError("outage.start", self.start, "seconds >= 0")
        if not isinstance(self.end, int | float) or self.end <= self.start:
            raise ConfigError("outage.end", self.end, f"seconds > start ({self.start})")
        check_outcome("outage.status", self.status)
        if self.models is not None:
            if isinstance(self.models, str):
                object.__setattr__(self, "models", frozenset({self.models}))
            else:
                object.__setattr__(self, "models", frozenset(self.models))

    def applies(self, t: float, model: str) -> bool:
        return self.start <= t < self.end and (self.models is None or model in self.models)
