"""The caller's stream: one answer from the first chunk to the end, resumed
on another attempt when it breaks after the commit point.

Once text reached the caller, the call is never simply retried (the caller
would get it twice). With ``Pipeline(resume="continue")`` a broken stream is
instead *continued*: the next capable target (the same one first when the
failure is transient) is asked, through the pipeline's attempt chain
(breaker, limiter, classification, telemetry) and under the call's own
deadline, to continue the text already delivered, and only the new part
reaches the caller, spliced into the same stream. When no target can, the
caller gets :class:`StreamInterrupted` with the text it has (``partial``);
the failure it carries is the original break, never a refused continuation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from resilience._core.call import Call, Handler
from resilience._core.context import RunContext, emit
from resilience._core.deadline import DeadlineScope
from resilience._core.errors import (
    CircuitOpenError,
    DeadlineExceeded,
    ProviderError,
    StreamInterrupted,
)
from resilience._core.events import StreamEnded, StreamResumed
from resilience._core.failure import Failure, Kind
from resilience._stream.attempt import AttemptStream, scoped
from resilience._stream.continuations import Continuations
from resilience._stream.wire import RESTART, Continuation, StreamTracker, StreamWire, continuing

__all__ = ["MAX_RESUMES", "PeekedStream", "Resumer"]

MAX_RESUMES = 3
"""Continuations one stream may go through before its break is final."""

# A continuation refused for these reasons is a target that cannot continue.
_REFUSALS = frozenset({Kind.BAD_REQUEST, Kind.UNSUPPORTED_FEATURE})


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class Resumer:
    """Finds the targets that can continue a broken stream and runs each
    continuation as one attempt through the pipeline's attempt chain."""

    def __init__(
        self,
        attempt: Handler,
        continuations: Continuations,
        targets: Callable[[Call], Iterator[Call | None]],
        unsupported: Callable[[str], frozenset[str]],
    ) -> None:
        self._attempt = attempt
        self.continuations = continuations
        self._targets = targets
        self._unsupported = unsupported

    def candidates(
        self,
        served: Call,
        original: Call,
        failure: Failure,
        text: str,
        wire: StreamWire,
        broke: frozenset[str] = frozenset(),
    ) -> Iterator[tuple[Call, str]]:
        """(call, mechanism) for each target that may continue, in order: the
        one that broke when its failure is transient, then the call's own
        target and the fallback targets. A target that already broke this
        call's stream before (``broke``) goes last: a second break says the
        failure is not as passing as it looked."""
        again = served.target in broke
        order: list[Call | None] = [served] if failure.retryable and not again else []
        order.append(original)
        order.extend(self._targets(original))
        if again:
            order = [c for c in order if c is None or c.target != served.target]
            if failure.retryable:
                order.append(served)
        tried = {served.target} if not failure.retryable else set()
        extra = (len(text) + 3) // 4  # the delivered text is now part of the prompt
        for candidate in order:
            if candidate is None or candidate.target in tried:
                continue
            tried.add(candidate.target)
            if candidate is not served:
                for feature in sorted(self._unsupported(candidate.target)):
                    candidate = candidate.without(feature)
            if "stream" in served.features and "stream" not in candidate.features:
                continue  # it cannot stream: nothing to splice into the caller's stream
            mechanism = RESTART if not text else self.continuations.mechanism(candidate.target)
            if mechanism is None or not wire.can_send(candidate, mechanism):
                continue
            yield candidate.replace(input_tokens=original.input_tokens + extra), mechanism

    async def attempt(self, run: RunContext, call: Call, continuation: Continuation) -> Any:
        """One continuation attempt, numbered after the call's others and
        bounded by its deadline; its stream after the first chunk."""
        with scoped(run, None), continuing(continuation):
            if run.deadline is None:
                result = await self._attempt(call)
            else:
                async with DeadlineScope(run.clock, run.deadline, call):
                    result = await self._attempt(call)
        if not isinstance(result, AttemptStream):
            raise ProviderError(
                Failure.of(
                    Kind.UNSUPPORTED_FEATURE,
                    code="continuation_not_streamed",
                    message="the continuation did not come back as a stream",
                    provider=call.provider,
                    feature="stream",
                ),
                call=call,
            )
        return result

    def learn(self, call: Call, mechanism: str, error: BaseException) -> None:
        failure = getattr(error, "failure", None)
        if mechanism != RESTART and isinstance(failure, Failure) and failure.kind in _REFUSALS:
            self.continuations.refused(call.target, mechanism)


class PeekedStream:
    """The stream a streamed call returns: the first chunk (already received
    when the pipeline handed it over), then the rest, resumed across
    attempts when the pipeline may. Attribute access goes to the current
    provider stream, so SDK stream objects keep their API."""

    def __init__(self, stream: AttemptStream, call: Call, resumer: Resumer | None) -> None:
        self._current = stream
        self._call = call
        self._resumer = resumer
        self._run = stream.run
        self._tracker: StreamTracker | None = (
            stream.wire.tracker() if stream.wire is not None else None
        )
        self._text: list[str] = []
        self._splicing = False
        self._overlap = ""
        self._done = False
        self.chunks = 0
        self.resumes = 0
        self._broke: set[str] = set()  # targets whose stream broke in this call

    @property
    def text(self) -> str | None:
        """The answer text the caller received so far (None for a format the
        library does not know)."""
        return "".join(self._text) if self._tracker is not None else None

    def __aiter__(self) -> PeekedStream:
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        while True:
            try:
                chunk = await self._current.__anext__()
            except StopAsyncIteration:
                self._finish(None)
                raise
            except ProviderError as exc:
                await self._recover(exc)
                continue
            except BaseException as exc:
                self._finish(exc)
                raise
            chunk = self._deliverable(chunk)
            if chunk is None:
                continue
            self.chunks += 1
            return chunk

    def _deliverable(self, chunk: Any) -> Any | None:
        tracker = self._tracker
        if tracker is None:
            return chunk
        if self._splicing:
            chunk = tracker.splice(chunk)
            if chunk is None:
                return None
        if self._overlap:
            chunk = self._trim(tracker, chunk)
            if chunk is None:
                return None
        text = tracker.text(chunk)
        if text:
            self._text.append(text)
        tracker.observe(chunk)
        return chunk

    def _trim(self, tracker: StreamTracker, chunk: Any) -> Any | None:
        """Skip the start of a continuation that repeats what the request left
        out of the prefill (the trailing whitespace Anthropic refuses)."""
        text = tracker.text(chunk)
        if not text:
            return chunk
        same = _common_prefix(self._overlap, text)
        if same == len(text) and same < len(self._overlap):
            self._overlap = self._overlap[same:]
            return tracker.without_text(chunk, same)
        self._overlap = ""
        return tracker.without_text(chunk, same) if same else chunk

    async def _recover(self, error: ProviderError) -> None:
        broken = self._current
        failure = error.failure
        errors: list[tuple[str, BaseException]] = []
        try:
            if self._resumable(failure):
                assert self._resumer is not None and self._tracker is not None
                assert broken.wire is not None
                text = "".join(self._text)
                broke = frozenset(self._broke)
                self._broke.add(broken.call.target)
                for call, mechanism in self._resumer.candidates(
                    broken.call, self._call, failure, text, broken.wire, broke
                ):
                    remaining = self._run.remaining() if self._run is not None else None
                    if remaining is not None and remaining <= 0:
                        break
                    self._emit(broken, StreamResumed, from_target=broken.call.target,
                               to_target=call.target, mechanism=mechanism,
                               chunks=self.chunks, failure=failure)  # fmt: skip
                    continuation = Continuation(text, mechanism)
                    try:
                        assert self._run is not None
                        new = await self._resumer.attempt(self._run, call, continuation)
                    except (ProviderError, CircuitOpenError) as exc:
                        errors.append((call.target, exc))
                        self._resumer.learn(call, mechanism, exc)
                        if isinstance(exc, DeadlineExceeded):
                            break
                        continue
                    self._close_attempt(broken, error, failure)
                    await broken.aclose()
                    self._current = new
                    self._splicing = True
                    self._overlap = continuation.unsent
                    self._tracker.begin_continuation()
                    self.resumes += 1
                    return
        except BaseException as exc:  # cancelled while resuming
            self._close_attempt(broken, error, failure)
            self._finish(exc)
            raise
        self._close_attempt(broken, error, failure)
        await broken.aclose()
        final = StreamInterrupted(
            failure, call=error.call, partial=self.text, chunks=self.chunks, errors=errors
        )
        self._finish(final)
        raise final from error

    def _resumable(self, failure: Failure) -> bool:
        return (
            self._resumer is not None
            and self._tracker is not None
            and self._run is not None
            and self._tracker.continuable
            and (failure.retryable or failure.failover)
            and self.resumes < MAX_RESUMES
        )

    def _emit(self, stream: AttemptStream, event: type[Any], **fields: Any) -> None:
        with scoped(self._run, stream.attempt):
            emit(event, stream.call, **fields)

    def _close_attempt(
        self, stream: AttemptStream, error: BaseException | None, failure: Failure | None
    ) -> None:
        self._emit(stream, StreamEnded, chunks=stream.chunks, error=error, failure=failure)

    def _finish(self, error: BaseException | None) -> None:
        if self._done:
            return
        self._done = True
        current = self._current
        if not isinstance(error, StreamInterrupted):  # that one's attempt is closed already
            self._close_attempt(current, error, getattr(error, "failure", None))
        with scoped(self._run, None):
            emit(
                StreamEnded,
                self._call,
                chunks=self.chunks,
                error=error,
                failure=getattr(error, "failure", None),
                resumes=self.resumes,
            )

    async def aclose(self) -> None:
        self._finish(None)
        await self._current.aclose()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._current, name)

    def __del__(self) -> None:
        if not getattr(self, "_done", True):
            self._finish(None)
