"""The description of one logical LLM request."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from resilience._core.errors import ConfigError
from resilience._core.frozen import fast_init

__all__ = ["Call", "Handler"]


@fast_init
@dataclass(frozen=True, slots=True)
class Call:
    """One logical request, as the pipeline sees it.

    ``payload`` and ``metadata`` are never part of ``repr`` (they may hold
    prompts); nothing in this library logs or records them.
    """

    provider: str
    model: str
    operation: str = "chat"
    input_tokens: int = 0
    max_output_tokens: int = 0
    features: frozenset[str] = frozenset()
    timeout: float | None = None
    # A plain dict by default (a shared read-only proxy would not pickle).
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    payload: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The common, valid case in one cheap test: a Call is built per request.
        if (
            type(self.provider) is str
            and type(self.model) is str
            and type(self.operation) is str
            and self.provider
            and self.model
            and self.operation
            and type(self.input_tokens) is int
            and type(self.max_output_tokens) is int
            and self.input_tokens >= 0
            and self.max_output_tokens >= 0
            and self.timeout is None
            and type(self.features) is frozenset
        ):
            return
        self._validate()

    def _validate(self) -> None:
        for name in ("provider", "model", "operation"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ConfigError(name, value, "a non-empty string")
        for name in ("input_tokens", "max_output_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(name, value, "an int >= 0")
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, int | float)
            or not math.isfinite(self.timeout)
            or self.timeout <= 0
        ):
            raise ConfigError("timeout", self.timeout, "a finite number of seconds > 0, or None")
        if not isinstance(self.features, frozenset):
            feats: Any = self.features
            if isinstance(feats, str) or not isinstance(feats, Iterable):
                raise ConfigError("features", feats, "an iterable of feature names")
            object.__setattr__(self, "features", frozenset(feats))

    @property
    def target(self) -> str:
        """``"provider/model"``: the key per-model state is kept under."""
        return f"{self.provider}/{self.model}"

    @property
    def tokens(self) -> int:
        """Tokens to reserve before sending: input estimate plus output cap."""
        return self.input_tokens + self.max_output_tokens

    def replace(self, **changes: Any) -> Call:
        return replace(self, **changes)

    def without(self, feature: str) -> Call:
        """This call with one feature turned off."""
        return replace(self, features=self.features - {feature})


Handler = Callable[[Call], Awaitable[Any]]
"""The application's own call: ``async (call) -> result``."""
