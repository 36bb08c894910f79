"""The store's tables (SQLAlchemy Core, shared by SQLite and PostgreSQL).

`events` is append-only: one row per event, `position` its global place (1..n, gap-free), `payload`
the canonical bytes of the event without the store's fields (`events.encode(e, with_store_fields=False)`),
so later proof hashes are over exactly what is stored. The other columns are copies of envelope
fields for indexed reads: by position (primary key), by stream (`stream_id, stream_version`, unique)
and by registration time (`recorded_at`, in UTC). `occurred_at` holds the Stockholm business day.

`store_head` has one row (`id = 1`) holding the highest position; every append locks it (see
`services.store.sql`). Core tables rather than SQLModel classes: the store never needs ORM objects,
and executemany over Core inserts is the fast path for bulk appends.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    text,
)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime stored in UTC (timestamptz in PostgreSQL, sortable ISO text in SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

events_table = Table(
    "events",
    metadata,
    Column("position", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("event_id", Uuid(), nullable=False, unique=True),
    Column("stream_id", String(200), nullable=False),
    Column("stream_version", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("version", Integer, nullable=False),
    Column("municipality", String(4), nullable=False),
    Column("occurred_at", Date, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("appended_at", UtcDateTime(), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    # the payload's parse for replays, as one Arrow CSV line (services.store.parsed; SQLite stores, NULL
    # where the payload has none and in rows appended before the column was added)
    Column("parsed", LargeBinary, nullable=True),
    Index("ix_events_stream", "stream_id", "stream_version", unique=True),
    Index("ix_events_recorded_at", "recorded_at"),
    # read paths of replays: one municipality in position order, its last row recorded by a time
    # (services.audit.pages.bounded), and the (few) retractions
    Index("ix_events_municipality", "municipality", "position"),
    Index("ix_events_municipality_recorded", "municipality", "recorded_at", postgresql_include=["position"]),
    Index("ix_events_retractions", "position", sqlite_where=text("type = 'event.retracted'"),
          postgresql_where=text("type = 'event.retracted'")),
)

# Rows of `events` changed or removed behind the store's back (the store itself only appends): on
# SQLite, triggers (services.store.sql.EDIT_TRIGGERS) add one row per UPDATE or DELETE. A replay
# checkpoint (services.audit.checkpoint) is taken only while no edit reaches into the rows it stands for.
event_edits = Table(
    "event_edits",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("position", BigInteger, nullable=False),  # the lowest position the edit touched
    Column("kind", String(10), nullable=False),  # "update" or "delete"
)

# Facts about the store itself: "store_id", a random id given when the store is created (so a replay
# checkpoint names the store it was made from, and a file made anew under the same name is another).
EDITS_BOTH: Final = "edits_logged_both_from"  # store_meta: edit-log entries up to this seq name one position
store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(50), primary_key=True),
    Column("value", String(200), nullable=False),
)

store_head = Table(
    "store_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
)
