"""Checks of numeric settings, shared by every component's constructor."""

from __future__ import annotations

import math

from resilience._core.errors import ConfigError

__all__ = ["number"]


def number(field: str, value: object, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """``value`` as a float if it is a finite number above ``minimum`` (or at
    it, with ``inclusive``); else a ConfigError naming ``field`` and ``value``."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and (value >= minimum if inclusive else value > minimum)
    )
    if not ok:
        raise ConfigError(field, value, f"a finite number {'>=' if inclusive else '>'} {minimum:g}")
    return float(value)  # type: ignore[arg-type]
