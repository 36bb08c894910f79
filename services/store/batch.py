"""The append rules every store applies the same way, before it writes anything.

`prepare` stamps `recorded_at` (when absent) and refuses events registered too far in the future;
`Plan` sorts a batch into new events, duplicates and conflicts against what is already stored and
checks `expected_version`. The stores only supply the lookups and do the writing, so the in-memory
fake, SQLite and PostgreSQL cannot drift apart in their semantics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final
from uuid import UUID

from events import Event, encode, to_dict
from events.codec import MAX_EVENT_BYTES
from services.store.base import ConcurrencyError, StoreError

MAX_FUTURE: Final = timedelta(minutes=5)  # clock-skew allowance for a recorded_at ahead of the store
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Prepared:
    """An event as it will be stored (`recorded_at` filled) and its canonical bytes."""

    event: Event
    payload: bytes


def prepare(events: Sequence[Event], now: datetime) -> list[Prepared]:
    """Events with `recorded_at` filled (the append time when absent); a future one refuses the batch."""
    limit = now + MAX_FUTURE
    out: list[Prepared] = []
    for event in events:
        if event.position is not None or event.appended_at is not None:
            raise StoreError(f"event {event.event_id}: position and appended_at are set by the store")
        if event.recorded_at is None:
            event = event.model_copy(update={"recorded_at": now})
        elif event.recorded_at > limit:
            raise StoreError(
                f"event {event.event_id}: recorded_at {event.recorded_at.isoformat()} lies more than "
                f"{int(MAX_FUTURE.total_seconds() // 60)} minutes in the future"
            )
        out.append(Prepared(event, payload(event)))
    return out


def stamped(event: Event, position: int, appended_at: datetime) -> Event:
    """The event as stored: with its position and appended_at (validated; about twice as fast as
    `model_copy(update=...)`, which matters for bulk appends; field values are reused, not copied)."""
    return type(event).model_validate({**event.__dict__, "position": position, "appended_at": appended_at})


def payload(event: Event) -> bytes:
    """The canonical bytes stored for an event (no store fields); proof hashes are over these."""
    data = encode(event, with_store_fields=False)
    if len(data) > MAX_EVENT_BYTES:
        raise StoreError(f"event {event.event_id}: {len(data)} bytes, over the limit of {MAX_EVENT_BYTES}")
    return data


def same_content(new: Event, stored: Event) -> bool:
    """Equal apart from the store's fields; a `recorded_at` the caller left out matches any."""
    a = to_dict(new, with_store_fields=False)
    b = to_dict(stored, with_store_fields=False)
    if new.recorded_at is None:
        a.pop("recorded_at")
        b.pop("recorded_at")
    return a == b


@dataclass
class Plan:
    """What one append will do: `new` events to write (in order), duplicate ids, conflict messages."""

    new: list[Prepared] = field(default_factory=list)
    duplicates: list[UUID] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    conflict_ids: list[UUID] = field(default_factory=list)

    @property
    def streams(self) -> set[str]:
        return {p.event.stream_id for p in self.new}


def plan(original: Sequence[Event], prepared: Sequence[Prepared], stored: Mapping[UUID, Event]) -> Plan:
    """Sort a batch against the stored events with the same ids (and earlier events of the batch)."""
    result = Plan()
    seen: dict[UUID, Event] = dict(stored)
    for raw, item in zip(original, prepared, strict=True):
        event = item.event
        earlier = seen.get(event.event_id)
        if earlier is None:
            seen[event.event_id] = event
            result.new.append(item)
        elif same_content(raw, earlier):
            result.duplicates.append(event.event_id)
        else:
            result.conflict_ids.append(event.event_id)
            result.conflicts.append(
                f"event {event.event_id} is already stored with other content (stream "
                f"{earlier.stream_id!r}, type {earlier.type}); an event id can be used only once"
            )
    return result


def check_versions(
    expected: Mapping[str, int] | None, actual: Callable[[Iterable[str]], Mapping[str, int]]
) -> None:
    """Raise ConcurrencyError for the first stream whose version is not the expected one."""
    if not expected:
        return
    versions = actual(expected.keys())
    for stream, want in expected.items():
        have = versions.get(stream, 0)
        if have != want:
            raise ConcurrencyError(
                f"stream {stream!r}: expected version {want}, but it is at version {have} "
                "(another writer appended first); nothing of this batch was stored"
            )
