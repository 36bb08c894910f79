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
whose key was shredded gets a new key for new events only; an event already stored is appended in its
stored sealed form when its public part is equal (a duplicate), so re-ingesting an old file never
resurrects removed data nor creates a key. A "conflict" the store reports is checked once more
against the stored event unsealed (or, once shredded, its public part; or the clear form an event
stored before sealing existed has) and reported as the duplicate it is.
Reads pass straight through: the store's bytes, and so every proof hash, are the sealed form.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from events import Event
from services.privacy.crypto import seal, unseal
from services.privacy.keystore import KeyStore, stream_holder
from services.store.base import AppendResult, EventStore
from services.store.batch import same_content


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


def public_form(event: Event) -> Event:
    """The event without its personal part (personal fields null, nothing sealed)."""
    nulls = dict.fromkeys(type(event.data).PERSONAL_FIELDS)
    return event.model_copy(update={"data": event.data.model_copy(update=nulls), "sealed": None})


def same_public(new: Event, stored: Event) -> bool:
    """Equal apart from the personal part (what can still be compared once a key is shredded)."""
    return same_content(public_form(new), public_form(stored))


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
            if stored is None:
                continue  # a new event of a shredded holder: sealed under a new key
            if stored.sealed is not None and same_public(events[i], stored):
                out[i] = stored.model_copy(update={"position": None, "appended_at": None})  # duplicate
            else:  # a conflict (or a clear pre-sealing duplicate, see append): needs no new key
                out[i] = public_form(events[i])
            del todo[i]
        live = self.keys.live_keys({holder_of(events[i]) for i in todo})  # only keys that will be used
        for i, fields in todo.items():
            key_id, key = live[holder_of(events[i])]
            out[i] = sealed_event(events[i], key_id, key, fields)
        return out

    def append(self, events: Sequence[Event], *, expected_version: dict[str, int] | None = None
               ) -> AppendResult:
        result = self.inner.append(self.seal_all(events), expected_version=expected_version)
        if result.conflict_ids:
            self._duplicates_of_older_forms(events, result)
        return result

    def _duplicates_of_older_forms(self, events: Sequence[Event], result: AppendResult) -> None:
        """A "conflict" whose stored event is the same event in another form is a duplicate: stored in
        clear before sealing existed, or sealed under a key since shredded (public parts equal)."""
        given = {e.event_id: e for e in events}
        kept: list[tuple[UUID, str]] = []
        for event_id, reason in zip(result.conflict_ids, result.conflicts, strict=True):
            stored, new = self.inner.get(event_id), given.get(event_id)
            if stored is not None and new is not None and self._same_event(new, stored):
                result.duplicates.append(event_id)
            else:
                kept.append((event_id, reason))
        result.conflict_ids = [k for k, _ in kept]
        result.conflicts = [r for _, r in kept]

    def _same_event(self, new: Event, stored: Event) -> bool:
        if stored.sealed is None:
            return same_content(new, stored)
        row = self.keys.key(stored.sealed.key)
        if row is None or row.secret is None:
            return same_public(new, stored)
        fields = unseal(row.secret, stored.sealed, stored.event_id)
        clear = stored.model_copy(update={"data": stored.data.model_copy(update=fields), "sealed": None})
        return same_content(new, clear)

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
