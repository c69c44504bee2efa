"""What an adapter needs to hand a provider's stream to the pipeline.

The pipeline checks and resumes streams it can read: an adapter wraps the
SDK's stream in a :class:`WatchedStream` marked with its wire format (a
:class:`StreamWire`, which tells the final event and tracks the text), picks
up the usage a stream carries near its end (``on_chunk`` and
:func:`set_usage`), and, when its handler runs for a continuation
(:func:`current_continuation` is set), asks the provider to continue the
text already delivered with the named mechanism (:data:`PREFILL`,
:data:`CONTINUE_FINAL_MESSAGE`; :data:`RESTART` is the plain request again).
A break the adapter itself detects becomes a classified error through
:func:`stream_failure`.

The bundled adapters (``resilience.adapters``) use only these names and those
of :mod:`resilience`; an adapter for another host can do the same.
"""

from resilience._core.context import AttemptState
from resilience._stream.attempt import stream_failure
from resilience._stream.continuations import CONTINUE_FINAL_MESSAGE, PREFILL
from resilience._stream.watched import WatchedStream, close_stream, set_usage
from resilience._stream.wire import (
    RESTART,
    Continuation,
    StreamTracker,
    StreamWire,
    current_continuation,
)

__all__ = [
    "CONTINUE_FINAL_MESSAGE",
    "PREFILL",
    "RESTART",
    "AttemptState",
    "Continuation",
    "StreamTracker",
    "StreamWire",
    "WatchedStream",
    "close_stream",
    "current_continuation",
    "set_usage",
    "stream_failure",
]
