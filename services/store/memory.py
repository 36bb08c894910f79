"""The in-memory fake of the event store (`memory://`), with exactly the semantics of the SQL stores.

For unit tests of the other layers: the same append rules (`services.store.batch`), the same
positions (1..n, gap-free), idempotency, optimistic concurrency and "as known at" reads. One lock
serialises appenders, which is what the head row does in PostgreSQL. Nothing survives `close()`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from uuid import UUID

from events import Event
from events.timeutil import as_aware
from services.store.base import AppendResult
from services.store.batch import Clock, check_versions, plan, prepare, stamped, utc_now


class MemoryStore:
    """An `EventStore` held in a list (index = position - 1)."""

    def __init__(self, *, clock: Clock = utc_now) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._events: list[Event] = []
        self._by_id: dict[UUID, Event] = {}
        self._streams: dict[str, list[Event]] = {}

    def append(
        self, events: Sequence[Event], *, expected_version: dict[str, int] | None = None
    ) -> AppendResult:
        with self._lock:
            now = self._clock()
            prepared = prepare(events, now)
            check_versions(expected_version, self._versions)
            stored = {e.event_id: self._by_id[e.event_id] for e in events if e.event_id in self._by_id}
            todo = plan(events, prepared, stored)
            accepted = []
            for offset, item in enumerate(todo.new, start=len(self._events) + 1):
                accepted.append(stamped(item.event, offset, now))
            for event in accepted:
                self._events.append(event)
                self._by_id[event.event_id] = event
                self._streams.setdefault(event.stream_id, []).append(event)
            return AppendResult(accepted=accepted, duplicates=todo.duplicates, conflicts=todo.conflicts,
                                conflict_ids=todo.conflict_ids)

    def _versions(self, streams: Iterable[str]) -> Mapping[str, int]:
        return {s: len(self._streams.get(s, ())) for s in streams}

    def get(self, event_id: UUID) -> Event | None:
        return self._by_id.get(event_id)

    def read_all(self, after: int = 0, limit: int | None = None,
                 known_at: datetime | None = None) -> Iterator[Event]:
        cutoff = None if known_at is None else as_aware(known_at)
        with self._lock:
            snapshot = self._events[max(after, 0):]
        yielded = 0
        for event in snapshot:
            if limit is not None and yielded >= limit:
                return
            if cutoff is not None and event.recorded_at is not None and event.recorded_at > cutoff:
                continue
            yielded += 1
            yield event

    def read_stream(self, stream_id: str) -> list[Event]:
        with self._lock:
            return list(self._streams.get(stream_id, ()))

    def stream_version(self, stream_id: str) -> int:
        with self._lock:
            return len(self._streams.get(stream_id, ()))

    def head(self) -> int:
        return len(self._events)

    def close(self) -> None:
        with self._lock:
            self._events, self._by_id, self._streams = [], {}, {}
