"""What an adapter needs to speak a host's wire format to the pipeline.

Requests: one :class:`WireFormat` per format (:data:`OPENAI_CHAT`,
:data:`OPENAI_RESPONSES`, :data:`ANTHROPIC_MESSAGES`, :data:`LITELLM`,
:data:`LANGCHAIN`) tells the features a request asks for
(``features(params)``), the request without the ones a target cannot take
(``without(params, dropped)``) and the usage its answer reports
(``usage(obj)``); the limiter reads usage from the same tables.

Streams: the pipeline checks and resumes streams it can read: an adapter wraps the
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
from resilience._core.formats import (
    ANTHROPIC_MESSAGES,
    LANGCHAIN,
    LITELLM,
    OPENAI_CHAT,
    OPENAI_RESPONSES,
    WireFormat,
    format_for_path,
)
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
    "ANTHROPIC_MESSAGES",
    "CONTINUE_FINAL_MESSAGE",
    "LANGCHAIN",
    "LITELLM",
    "OPENAI_CHAT",
    "OPENAI_RESPONSES",
    "PREFILL",
    "RESTART",
    "AttemptState",
    "Continuation",
    "StreamTracker",
    "StreamWire",
    "WatchedStream",
    "WireFormat",
    "close_stream",
    "current_continuation",
    "format_for_path",
    "set_usage",
    "stream_failure",
]
