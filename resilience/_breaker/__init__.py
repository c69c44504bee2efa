"""The circuit breaker, per provider and per provider/model.

- :mod:`.breaker`: :class:`CircuitBreaker`, the state machine and the middleware;
- :mod:`.permit`: one admitted call's vote, and the listener protocol.

Its state lives behind :class:`~resilience._store.BreakerStore`.
"""

from resilience._breaker.breaker import CircuitBreaker
from resilience._breaker.permit import BreakerListener, BreakerPermit

__all__ = ["BreakerListener", "BreakerPermit", "CircuitBreaker"]
