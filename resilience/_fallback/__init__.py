"""Fallback: the next target when this one cannot serve.

- :mod:`.fallback`: :class:`Fallback`, the middleware (which failure moves
  where, feature degradation, the targets left for a rate limiter to weigh);
- :mod:`.windows`: :class:`ContextWindows`, model context sizes for
  ``context_length`` failures.
"""

from resilience._fallback.fallback import Fallback, Target
from resilience._fallback.windows import BUILTIN_CONTEXT_WINDOWS, ContextWindows

__all__ = ["BUILTIN_CONTEXT_WINDOWS", "ContextWindows", "Fallback", "Target"]
