"""Results whose verdict waits: a stream is only a success once it ended.

The breaker and the limiter settle an attempt when its handler returns,
except for a result that says it ends later (a pipeline stream after its
first chunk); for that one they settle when it ends, so a stream that dies
mid-way counts as the failure it is. The stream layer provides such results
(subclasses of :class:`EndsLater`); the guarding layers know only this class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["EndsLater", "on_stream_end"]


class EndsLater:
    """A result whose verdict waits for its end (the stream layer's streams)."""

    __slots__ = ()

    def when_ended(self, fn: Callable[[BaseException | None], None]) -> None:
        """Call ``fn(error_or_None)`` once when the result ends."""
        raise NotImplementedError


def on_stream_end(result: Any, fn: Callable[[BaseException | None], None]) -> bool:
    """If ``result`` ends later, arrange ``fn(error_or_None)`` for its end and
    return True; otherwise return False (the caller settles at once)."""
    if isinstance(result, EndsLater):
        result.when_ended(fn)
        return True
    return False
