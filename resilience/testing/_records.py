"""What reached the fake provider: one record per request."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Recorder", "RequestRecord"]

# Outcomes that have no HTTP status of their own; ``count(status=...)`` accepts these names.
NO_STATUS_OUTCOMES = frozenset(
    {"reset", "hang", "midstream", "cut", "stall", "truncate", "malformed"}
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the fake provider answered (or dropped).

    ``time`` is seconds since the server started, on its clock. ``status`` is the
    HTTP status sent, or 0 when the connection was reset or the request hung.
    ``reason`` says why: ``"ok"``, ``"rate_limit"`` (the limiter refused),
    ``"injected"`` (profile), ``"scripted"``, ``"outage"``, ``"unsupported"``,
    ``"context_length"``, ``"bad_request"``, ``"reset"``, ``"hang"``, ``"midstream"``,
    or a stream fault's kind (``"cut"``, ``"stall"``, ``"truncate"``, ``"malformed"``).
    The API key is kept for per-key assertions but hidden from ``repr``.
    """

    time: float
    key: str = field(repr=False)
    model: str
    endpoint: str
    status: int
    input_tokens: int
    output_tokens: int
    stream: bool
    reason: str = "ok"

    @property
    def outcome(self) -> int | str:
        """The status, or the name of an outcome a status does not tell (reset, hang,
        midstream, or a stream fault's kind)."""
        return self.reason if self.reason in NO_STATUS_OUTCOMES else self.status


class Recorder:
    """Keeps the records and running counts (cheap enough for thousands per second)."""

    __slots__ = ("by_outcome", "records")

    def __init__(self) -> None:
        self.records: list[RequestRecord] = []
        self.by_outcome: Counter[int | str] = Counter()

    def add(self, record: RequestRecord) -> None:
        self.records.append(record)
        self.by_outcome[record.outcome] += 1

    def count(self, status: int | str | None = None, model: str | None = None) -> int:
        if model is None:
            if status is None:
                return len(self.records)
            return self.by_outcome.get(status, 0)
        return sum(
            1 for r in self.records if r.model == model and (status is None or r.outcome == status)
        )
