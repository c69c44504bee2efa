"""A toy wire format for stream tests: letters, and ``.`` ends the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from resilience import Call
from resilience._stream.wire import current_continuation

ANSWER = "Calm seas, bright lights."
CALL = Call("toy", "small", features=frozenset({"stream"}))
TOY = {"toy": "prefill"}


class Broken(Exception):
    """A dropped connection, as the classifier sees it."""

    status_code = 503


class LetterTracker:
    continuable = True

    def text(self, chunk: str) -> str:
        return "" if chunk == "<start>" else chunk

    def observe(self, chunk: str) -> None:
        if chunk == "<tool>":
            self.continuable = False

    def begin_continuation(self) -> None:
        pass

    def splice(self, chunk: str) -> str | None:
        return None if chunk == "<start>" else chunk

    def without_text(self, chunk: str, n: int) -> str | None:
        return chunk[n:] or None


class LetterWire:
    def __init__(self, refuse: frozenset[str] = frozenset()) -> None:
        self.refuse = refuse

    def finished(self, chunk: str) -> bool:
        return chunk.endswith(".")

    def tracker(self) -> LetterTracker:
        return LetterTracker()

    def can_send(self, call: Call, mechanism: str) -> bool:
        return call.target not in self.refuse


class Wired:
    """A provider stream marked with its wire format, as adapters mark theirs."""

    def __init__(self, gen: AsyncIterator[str], wire: Any) -> None:
        self._gen = gen
        self.resilience_wire = wire

    def __aiter__(self) -> Wired:
        return self

    async def __anext__(self) -> str:
        return await self._gen.__anext__()

    async def aclose(self) -> None:
        await self._gen.aclose()  # type: ignore[attr-defined]


class Toy:
    """A provider per target: ``plans[target]`` lists, per request, after how
    many letters the stream breaks (None: it completes; "refuse": a 400)."""

    def __init__(self, plans: dict[str, list[Any]], wire: Any = None) -> None:
        self.plans = plans
        self.wire = wire if wire is not None else LetterWire()
        self.sent: list[tuple[str, str | None]] = []  # (target, prefill sent)

    async def __call__(self, call: Call) -> Wired:
        cont = current_continuation()
        prefill = cont.prefill(rstrip=True) if cont is not None and cont.text else None
        self.sent.append((call.target, prefill))
        plan = self.plans[call.target].pop(0)
        if plan == "refuse":
            raise RefusedPrefill("This model does not support assistant message prefill.")
        rest = ANSWER[len(prefill) :] if prefill else ANSWER
        return Wired(self._gen(rest, plan), self.wire)

    async def _gen(self, text: str, breaks_after: int | None) -> AsyncIterator[str]:
        yield "<start>"
        for i, letter in enumerate(text):
            if breaks_after is not None and i == breaks_after:
                raise Broken("connection reset mid-stream")
            yield letter


class RefusedPrefill(Exception):
    status_code = 400


async def read(stream: Any) -> str:
    return "".join(c for c in [c async for c in stream] if c != "<start>")
