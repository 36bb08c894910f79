"""The one write path's sealing: an `EventStore` wrapper that seals personal fields before appending.

The composition root (`services.bootstrap.open_event_store`) wraps every store it opens in a
`SealingStore`, so ingest, `casestream simulate`, the demo's history and live feed and gallring all
append through here. Per event whose payload class names PERSONAL_FIELDS and has any of them set:

1. the key holder is the event's `data.person`, else `stream:<stream_id>` (an event that names no
   person, e.g. `case.closed`, is sealed under its stream's key, which is shredded with every person
   the stream's other events name);
2. the personal fields are sealed (`services.privacy.crypto.seal`) under the holder's live key and
   set to null in `data`; the sealed part goes in the envelope's `sealed` field.

Sealing is deterministic per (key, event), so re-appending the same event is a duplicate. A holder
whose key was shredded gets a new key for new events; for an event already stored the stored sealed
form is appended again (a duplicate), so re-ingesting an old file never resurrects removed data.
Reads pass straight through: the store's bytes, and so every proof hash, are the sealed form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from events import Event
from services.privacy.crypto import seal
from services.privacy.keystore import KeyStore, stream_holder
from services.store.base import AppendResult, EventStore


def personal_fields(event: Event) -> dict[str, Any]:
    """The personal fields an event carries in clear (empty when sealed already or none is set)."""
    if event.sealed is not None:
        return {}
    data = event.data
    return {f: v for f in type(data).PERSONAL_FIELDS if (v := getattr(data, f)) is not None}


def holder_of(event: Event) -> str:
    person = getattr(event.data, "person", None)
    return person if isinstance(person, str) else stream_holder(event.stream_id)


def sealed_event(event: Event, key_id: str, key: bytes, fields: dict[str, Any]) -> Event:
    """The event as stored: personal fields null in `data`, their sealed form in `sealed`."""
    part = seal(key, key_id, event.event_id, fields)
    data = event.data.model_copy(update=dict.fromkeys(fields))
    return event.model_copy(update={"data": data, "sealed": part})


class SealingStore:
    """An EventStore that seals every appended event's personal part; everything else is delegated."""

    def __init__(self, inner: EventStore, keys: KeyStore) -> None:
        self.inner = inner
        self.keys = keys

    def seal_all(self, events: Sequence[Event]) -> list[Event]:
        links = {(e.stream_id, p) for e in events if isinstance(p := getattr(e.data, "person", None), str)}
        self.keys.link(links)
        todo = {i: f for i, e in enumerate(events) if (f := personal_fields(e))}
        if not todo:
            return list(events)
        out = list(events)
        shredded = self.keys.had_keys({holder_of(events[i]) for i in todo})
        for i in [i for i in todo if holder_of(events[i]) in shredded]:
            stored = self.inner.get(events[i].event_id)
            if stored is not None and stored.sealed is not None:  # stored before the shredding
                out[i] = stored.model_copy(update={"position": None, "appended_at": None})
                del todo[i]
        live = self.keys.live_keys({holder_of(events[i]) for i in todo})  # only keys that will be used
        for i, fields in todo.items():
            key_id, key = live[holder_of(events[i])]
            out[i] = sealed_event(events[i], key_id, key, fields)
        return out

    def append(self, events: Sequence[Event], *, expected_version: dict[str, int] | None = None
               ) -> AppendResult:
        return self.inner.append(self.seal_all(events), expected_version=expected_version)

    def get(self, event_id: UUID) -> Event | None:
        return self.inner.get(event_id)

    def read_all(self, after: int = 0, limit: int | None = None,
                 known_at: datetime | None = None) -> Iterator[Event]:
        return self.inner.read_all(after, limit, known_at)

    def read_stream(self, stream_id: str) -> list[Event]:
        return self.inner.read_stream(stream_id)

    def stream_version(self, stream_id: str) -> int:
        return self.inner.stream_version(stream_id)

    def head(self) -> int:
        return self.inner.head()

    def close(self) -> None:
        self.inner.close()
        self.keys.close()
