"""The store's hot paths: writing many event rows at once and turning stored rows back into events.

Writing goes straight to the driver inside the append transaction, because SQLAlchemy's per-value
bind processing cost more than the database itself for bulk appends: PostgreSQL gets one `COPY`
(psycopg adapts uuid, date, timestamptz and bytea), SQLite one `executemany` with values in exactly
the form SQLAlchemy's own types store and compare (uuid as 32 hex digits, UTC timestamps as
`YYYY-MM-DD HH:MM:SS.ffffff`, microseconds always written), so every SQLAlchemy read and filter
sees them alike (the contract tests read everything back through SQLAlchemy).

Reading validates the stored payload with the event's envelope model (upcasting older versions)
but skips the codec's personnummer scan: a payload is the `encode` of an event that was validated
on its way in, and rescanning millions of stored events on every replay would dominate its cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple
from uuid import UUID

import orjson
from sqlalchemy import Connection

from events import Event
from events.registry import ENVELOPES, upcast

COLUMNS: Final = ("position", "event_id", "stream_id", "stream_version", "type", "version", "municipality",
                  "occurred_at", "recorded_at", "appended_at", "payload", "parsed")


class EventRow(NamedTuple):
    position: int
    event_id: UUID
    stream_id: str
    stream_version: int
    type: str
    version: int
    municipality: str
    occurred_at: date
    recorded_at: datetime
    appended_at: datetime
    payload: bytes
    parsed: bytes | None = None  # services.store.parsed (SQLite stores)


def stored_event(payload: bytes, position: int, appended_at: datetime) -> Event:
    """The event a stored payload holds, with the store's position and appended_at."""
    raw = orjson.loads(payload)
    raw["position"] = position
    raw["appended_at"] = appended_at
    return ENVELOPES[raw["type"]].model_validate(upcast(raw))


def insert_rows(conn: Connection, rows: Sequence[EventRow]) -> None:
    """Write the rows in the connection's current transaction, in one round of the fastest kind."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        _sqlite_insert(conn, rows)
    else:
        _postgres_copy(conn, rows)


def _sqlite_ts(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _sqlite_insert(conn: Connection, rows: Sequence[EventRow]) -> None:
    appended = _sqlite_ts(rows[0].appended_at)  # one append, one appended_at
    values: list[tuple[Any, ...]] = [
        (r.position, r.event_id.hex, r.stream_id, r.stream_version, r.type, r.version, r.municipality,
         r.occurred_at.isoformat(), _sqlite_ts(r.recorded_at),
         appended if r.appended_at is rows[0].appended_at else _sqlite_ts(r.appended_at), r.payload, r.parsed)
        for r in rows
    ]
    marks = ", ".join("?" for _ in COLUMNS)
    conn.exec_driver_sql(f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({marks})", values)


def _postgres_copy(conn: Connection, rows: Sequence[EventRow]) -> None:
    driver = conn.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY events ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
