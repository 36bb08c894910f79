"""Reading a person's personal part back: every sealed field of the events that concern the person.

The events that concern a person are those on the streams their events name (`privacy_stream_persons`
is filled by the write path from every event carrying `data.person`). Each sealed part is opened with
its key; a shredded key gives "gallrad" with the day and policy, never an error, so the output says
what was removed. Nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from events import Event
from services.privacy.crypto import SealError, unseal
from services.privacy.keystore import KeyStore, stream_holder
from services.store.base import EventStore


@dataclass(frozen=True, slots=True)
class PersonalEntry:
    """One event's personal part: its fields, or why they cannot be read."""

    event_id: str
    type: str
    stream_id: str
    business_day: date
    fields: dict[str, Any] | None  # None: not readable (see `status`)
    status: str  # "open" | "shredded <day> (<policy>)" | "no key" | the SealError message


def open_part(keys: KeyStore, event: Event) -> tuple[dict[str, Any] | None, str]:
    """(fields, "open") or (None, why) for a sealed event."""
    assert event.sealed is not None
    row = keys.key(event.sealed.key)
    if row is None:
        return None, f"no key {event.sealed.key!r} in the key store"
    if row.secret is None:
        day = row.shredded_at.date().isoformat() if row.shredded_at else "?"
        return None, f"gallrad {day} ({row.shredded_by or 'okänd policy'}): the key is shredded"
    try:
        return unseal(row.secret, event.sealed, event.event_id), "open"
    except SealError as exc:
        return None, str(exc)


def person_entries(store: EventStore, keys: KeyStore, person: str) -> Iterator[PersonalEntry]:
    """The sealed parts of the events on the person's streams, in stream and stream order."""
    for stream in keys.streams_of(person):
        mine = {person, stream_holder(stream)}
        for event in store.read_stream(stream):
            if event.sealed is None or event.sealed.key.split("#")[0] not in mine:
                continue  # unsealed, or another person's part on a shared stream
            fields, status = open_part(keys, event)
            yield PersonalEntry(str(event.event_id), event.type, event.stream_id, event.business_date,
                                fields, status)
