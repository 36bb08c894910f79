"""The event store's contract, shared by the in-memory fake, SQLite and PostgreSQL.

An `EventStore` is append-only. `append` is idempotent by `event_id` (the same id and content twice is
one event, reported as a duplicate; the same id with other content is a conflict) and checks optimistic
concurrency per stream when `expected_version` is given. Every stored event gets a global `position`
(1, 2, 3 ... in commit order, gap-free, never visible out of order) and `appended_at`; `recorded_at`
is set to the append time when absent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from events import Event


class StoreError(Exception):
    """The store refused an append (the message says which event and why)."""


class ConcurrencyError(StoreError):
    """A stream's version was not the expected one (another writer appended first)."""


@dataclass
class AppendResult:
    accepted: list[Event] = field(default_factory=list)  # as stored: with position and appended_at
    duplicates: list[UUID] = field(default_factory=list)  # same id and content, already stored
    conflicts: list[str] = field(default_factory=list)  # same id, other content: why, naming the id
    conflict_ids: list[UUID] = field(default_factory=list)  # the ids of `conflicts`, in the same order


class EventStore(Protocol):
    def append(
        self, events: Sequence[Event], *, expected_version: dict[str, int] | None = None
    ) -> AppendResult:
        """Append atomically (all or nothing); `expected_version[stream]` = events on it before this batch."""
        ...

    def get(self, event_id: UUID) -> Event | None: ...

    def read_all(self, after: int = 0, limit: int | None = None,
                 known_at: datetime | None = None) -> Iterator[Event]:
        """Events with position > after, in position order; only recorded_at <= known_at when given."""
        ...

    def read_stream(self, stream_id: str) -> list[Event]: ...

    def stream_version(self, stream_id: str) -> int: ...

    def head(self) -> int:
        """The highest visible position (0 when empty)."""
        ...

    def close(self) -> None: ...
