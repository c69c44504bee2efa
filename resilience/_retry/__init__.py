"""Retry: the same target again, only when it can help.

- :mod:`.retry`: :class:`Retry`, the middleware (backoff, Retry-After, the
  outage and pacing rules, the attempt time limit);
- :mod:`.budget`: :class:`RetryBudget`, retries as a share of the calls.
"""

from resilience._retry.budget import RetryBudget
from resilience._retry.retry import JITTERS, SPLIT, Retry

__all__ = ["JITTERS", "SPLIT", "Retry", "RetryBudget"]
