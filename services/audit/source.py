"""The events a replay includes, streamed from the store in position order with their stored bytes.

"Included" = recorded_at <= known_at (as known at, CONVENTIONS §1), of the chosen municipality (all
when none is chosen), at or below an upper position (the store's head when the replay started, so a
proof names a fixed range). Reads page by position; nothing here holds more than one page.

The bytes hashed are the store's own. For the SQL stores they are read straight from the `payload`
column (`services.store.tables`), so a row edited behind the store's back is hashed as it now is, and
a payload that no longer decodes is reported with its position and event id instead of aborting the
replay. A `SealingStore` (what `bootstrap` gives) passes every read through to its SQL store
unchanged, so its SQL store is read (`sql_store`). Other stores (the in-memory fake) re-encode with
`services.store.batch.payload`, the very function the stores write with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from uuid import UUID

import orjson
from pydantic import ValidationError
from sqlalchemy import String, select, text, type_coerce

from events import Event, EventError, decode
from events.reference import EventRetracted
from events.registry import ENVELOPES, upcast
from events.timeutil import as_aware
from services.audit.trusted import trusted
from services.privacy.sealing import SealingStore
from services.store.base import EventStore
from services.store.batch import payload
from services.store.sql import SqlStore
from services.store.tables import events_table as ev


def sql_store(store: EventStore) -> SqlStore | None:
    """The SQL store a replay reads: `store`, or the one beneath a `SealingStore` (which seals what is
    appended and passes every read through unchanged); None for another kind of store."""
    if isinstance(store, SealingStore):
        store = store.inner
    return store if isinstance(store, SqlStore) else None


BACK_REGISTERED: Final = timedelta(days=1)  # recorded_at more than this before appended_at (§1)
PAGE: Final = 5000


@dataclass(frozen=True, slots=True)
class Scope:
    """Which events a replay includes."""

    known_at: datetime | None  # None: everything recorded
    municipality: str | None = None
    upto: int | None = None  # highest position included (None: everything the store holds)


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored event: its position and id, the stored bytes, and the decoded event (or why not)."""

    position: int
    event_id: str  # canonical dashed form
    appended_at: datetime
    raw: bytes
    event: Event | None
    error: str | None = None


def sql_page(store: SqlStore, after: int, cutoff: datetime | None,
              municipality: str | None) -> Sequence[Any]:
    # event_id and appended_at come as the driver gives them (no per-row SQLAlchemy type processing)
    q = select(ev.c.position, type_coerce(ev.c.event_id, String).label("event_id"),
               type_coerce(ev.c.appended_at, String).label("appended_at"), ev.c.payload)
    q = q.where(ev.c.position > after)
    if cutoff is not None:
        q = q.where(ev.c.recorded_at <= cutoff)
    if municipality is not None:
        q = q.where(ev.c.municipality == municipality)
    with store._engine.connect() as conn:  # the store's own engine; read-only query
        return conn.execute(q.order_by(ev.c.position).limit(PAGE)).all()


def decode_stored(raw: bytes, position: int, appended_at: datetime, parsed: Any = None) -> Event:
    """Stored bytes -> the event with its position and appended_at, validated by its envelope model.

    The personnummer scan is not repeated: it ran when the store accepted the event, and bytes changed
    since then fail the proof's hashes anyway. The common types are built without validating again
    (`services.audit.trusted`); anything that does not validate goes through the full `decode`, which
    raises an `EventError` naming the field.
    """
    try:
        value = orjson.loads(raw) if parsed is None else parsed
        fast = trusted(value, position, appended_at) if isinstance(value, dict) else None
        if fast is not None:
            return fast
        value["position"], value["appended_at"] = position, appended_at
        return ENVELOPES[value["type"]].model_validate(upcast(value))
    except (orjson.JSONDecodeError, ValidationError, KeyError, TypeError, ValueError):
        event = decode(raw, from_store=True)
        return event.model_copy(update={"position": position, "appended_at": appended_at})


def canonical_id(value: Any) -> str:
    """The canonical (dashed) form of an id column: SQLite holds 32 hex digits, PostgreSQL a uuid."""
    if isinstance(value, str) and len(value) == 32:
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    return str(value)


def utc(value: Any) -> datetime:
    """An appended_at column value as an aware UTC datetime (SQLite holds naive UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_bytes(payload: Any) -> bytes:
    """A payload column value as bytes (str: a TEXT value edited by hand)."""
    return payload if isinstance(payload, bytes) else (
        payload.encode() if isinstance(payload, str) else bytes(payload))


def decoded(position: int, event_id: str, appended: datetime, raw: bytes, parsed: Any = None) -> Stored:
    """One stored row decoded (`parsed`: its payload already parsed as JSON, when it was)."""
    try:
        event: Event | None = decode_stored(raw, position, appended, parsed)
        error = None
    except EventError as exc:
        event, error = None, exc.message
    return Stored(position, event_id, appended, raw, event, error)


def _decoded(position: int, event_id: Any, appended_at: Any, payload: Any) -> Stored:
    return decoded(position, canonical_id(event_id), utc(appended_at), as_bytes(payload))


def _sql_stored(store: SqlStore, after: int, cutoff: datetime | None,
                municipality: str | None) -> Iterator[Stored]:
    while True:
        rows = sql_page(store, after, cutoff, municipality)
        for position, event_id, appended_at, body in rows:  # unpacking: cheaper than Row attributes
            yield _decoded(position, event_id, appended_at, body)
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def stored(store: EventStore, *, after: int = 0, known_at: datetime | None = None,
           municipality: str | None = None) -> Iterator[Stored]:
    """Stored events after position `after` in position order (only recorded_at <= known_at when given).

    `municipality` narrows the SQL query by its column (a hint: `included` checks the event itself too).
    """
    cutoff = None if known_at is None else as_aware(known_at)
    sql = sql_store(store)
    if sql is not None:
        yield from _sql_stored(sql, after, cutoff, municipality)
        return
    for event in store.read_all(after=after, known_at=cutoff):
        assert event.position is not None and event.appended_at is not None
        yield Stored(event.position, str(event.event_id), event.appended_at, payload(event), event)


def included(store: EventStore, scope: Scope, *, after: int = 0) -> Iterator[Stored]:
    """The included events of `scope` after position `after`, in position order.

    An event that no longer decodes cannot show its municipality; it is yielded (with `error`) so
    the caller names it.
    """
    for item in stored(store, after=after, known_at=scope.known_at, municipality=scope.municipality):
        if scope.upto is not None and item.position > scope.upto:
            return
        if scope.municipality is not None and item.event is not None \
                and item.event.municipality != scope.municipality:
            continue
        yield item


def recorded_between(store: EventStore, after: datetime, until: datetime, municipality: str | None,
                     upto: int) -> Iterator[Stored]:
    """The events recorded in (after, until], of the municipality (all when None), at or below position
    `upto`, in position order, decoded. SQL stores answer from the index on recorded_at."""
    lo, hi = as_aware(after), as_aware(until)
    sql = sql_store(store)
    if sql is None:
        for item in included(store, Scope(until, municipality, upto)):
            if item.event is None or item.event.recorded_at is None or item.event.recorded_at > lo:
                yield item
        return
    q = select(ev.c.position, type_coerce(ev.c.event_id, String), type_coerce(ev.c.appended_at, String),
               ev.c.payload).where(ev.c.recorded_at > lo, ev.c.recorded_at <= hi, ev.c.position <= upto)
    if municipality is not None:
        q = q.where(ev.c.municipality == municipality)
    with sql._engine.connect() as conn:  # the store's own engine; read-only query
        rows = conn.execute(q.order_by(ev.c.position)).all()
    for position, event_id, appended_at, body in rows:
        item = _decoded(position, event_id, appended_at, body)
        if municipality is None or item.event is None or item.event.municipality == municipality:
            yield item


def retraction_targets(store: EventStore, upto: int | None = None) -> frozenset[UUID]:
    """Every event id some `event.retracted` at or below position `upto` targets (any record time).

    A replay folds in compact mode (`projections.bundle.compact`) with this set: only these events'
    facts are kept by event id. SQL stores answer from the partial index of retractions; a payload
    that does not parse is skipped here (the replay names it when it reaches it).
    """
    out: set[UUID] = set()
    sql = sql_store(store)
    if sql is not None:
        q = select(ev.c.payload).where(text("type = 'event.retracted'"))  # the partial index's predicate
        if upto is not None:
            q = q.where(ev.c.position <= upto)
        with sql._engine.connect() as conn:  # the store's own engine; read-only query
            for (body,) in conn.execute(q):
                try:
                    out.add(UUID(orjson.loads(body)["data"]["retracted_event_id"]))
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                    continue
        return frozenset(out)
    for event in store.read_all():
        if upto is not None and event.position is not None and event.position > upto:
            break
        if isinstance(event.data, EventRetracted):
            out.add(event.data.retracted_event_id)
    return frozenset(out)


def back_registered(event: Event | None, appended_at: datetime) -> bool:
    """Appended more than a day after its recorded_at: it rewrites what was "known" earlier (§1)."""
    if event is None or event.recorded_at is None:
        return False
    return appended_at - event.recorded_at > BACK_REGISTERED
