"""Results whose verdict waits: a stream is only a success once it ended.

The breaker and the limiter settle an attempt when its handler returns,
except for a result that says it ends later (a pipeline stream after its
first chunk); for that one they settle when it ends, so a stream that dies
mid-way counts as the failure it is. The stream layer provides such results;
the guarding layers only know this one method name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["on_stream_end"]


def on_stream_end(result: Any, fn: Callable[[BaseException | None], None]) -> bool:
    """If ``result`` ends later, arrange ``fn(error_or_None)`` for its end and
    return True; otherwise return False (the caller settles at once)."""
    # Looked up on the type: SDK objects forward unknown attributes.
    when_ended = getattr(type(result), "when_ended", None)
    if when_ended is None:
        return False
    when_ended(result, fn)
    return True
