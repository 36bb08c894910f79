"""The SQL event store (SQLite and PostgreSQL) over the tables of `services.store.tables`.

Gap-free visibility. A reader polls `read_all(after=last)` and moves `last` to the highest position
it saw, so it must never see position n+1 while n is still invisible. Positions handed out by a
sequence break this: transaction A takes 5, B takes 6, B commits first, the reader sees 6 and
moves on, then A commits 5 and the reader never sees it. Here every append transaction first
locks the one row of `store_head` (PostgreSQL: `SELECT ... FOR UPDATE`; SQLite: `BEGIN IMMEDIATE`,
which takes the database's single write lock), assigns positions head+1.. from it, writes the
events and the new head, and commits. The next appender gets the lock only after that commit is
visible, so commit order equals position order and at every instant the visible positions are
exactly 1..head. The price is that appends are serialised; batches (executemany in one
transaction) keep that cheap.

Reads page by keyset on position (`page_size` rows per query, each in its own short transaction),
so a replay of millions of events keeps memory flat and holds no connection between pages.
SQLite runs in WAL mode (readers never block the writer) with a busy timeout and synchronous=FULL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid4

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Engine,
    any_,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from events import Event
from events.timeutil import as_aware
from services.store import parsed
from services.store.base import AppendResult, StoreError
from services.store.batch import Clock, Plan, check_versions, plan, prepare, stamped, utc_now
from services.store.rows import COLUMNS, EventRow, insert_rows, stored_event
from services.store.tables import EDITS_BOTH, event_edits, metadata, store_head, store_meta
from services.store.tables import events_table as ev

CHUNK = 5000  # ids / streams per IN (...) lookup, under SQLite's bound-parameter limit
_SCHEMA_LOCK = 7_311_966  # pg_advisory_xact_lock key: one process creates the schema at a time


def row_event(row: Any) -> Event:
    """Decode a stored row (position, appended_at, payload) into the event it holds."""
    return stored_event(row.payload, row.position, row.appended_at)


# The edit log's triggers (services.store.tables.event_edits), SQLite only: an UPDATE of a row's event (any
# column but `parsed`) logs its old and its new position, one of a filled `parsed` line its position, a
# DELETE its position. (An INSERT below the head needs a DELETE first: positions are dense. Filling a NULL
# `parsed` is not an edit: `SqlStore.fill_parsed` does it for rows appended before the column.) Before
# 3 Dec 2026 an UPDATE logged only the lower of the two positions; `EDITS_BOTH` in store_meta is the last
# entry of that kind (services.store.parsed.edited). PostgreSQL stores log UPDATEs of the event columns and
# DELETEs the same way, through one PL/pgSQL function (`PG_EDIT_BODY`, `PG_EDIT_TRIGGERS`); replays there
# read no `parsed` lines.
_EVENT_COLUMNS: Final = ", ".join(c for c in COLUMNS if c != "parsed")
EDIT_TRIGGERS: Final = {  # name -> its statement (as SQLite keeps it in sqlite_master)
    "events_edited": f"CREATE TRIGGER events_edited AFTER UPDATE OF {_EVENT_COLUMNS} ON events BEGIN "
    "INSERT INTO event_edits (position, kind) VALUES (min(OLD.position, NEW.position), 'update'); "
    "INSERT INTO event_edits (position, kind) SELECT max(OLD.position, NEW.position), 'update' "
    "WHERE OLD.position <> NEW.position; END",
    "events_parsed_edited": "CREATE TRIGGER events_parsed_edited AFTER UPDATE OF parsed ON events "
    "WHEN OLD.parsed IS NOT NULL BEGIN "
    "INSERT INTO event_edits (position, kind) VALUES (OLD.position, 'update'); END",
    "events_removed": "CREATE TRIGGER events_removed AFTER DELETE ON events BEGIN "
    "INSERT INTO event_edits (position, kind) VALUES (OLD.position, 'delete'); END",
}


# PostgreSQL's edit log: the function's body (as pg_proc.prosrc keeps it) and its two triggers (as
# pg_get_triggerdef gives them back, the schema left out), made again only where they differ. A
# checkpoint's mark is read under a SHARE lock on event_edits (`Checkpoints.edit_mark`), which waits for
# every transaction that has logged an edit and not yet committed: a sequence's numbers commit out of
# order, so a later mark could otherwise pass an earlier edit by.
PG_EDIT_FUNCTION: Final = "casestream_log_event_edit"
PG_EDIT_BODY: Final = """
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO event_edits (position, kind) VALUES (OLD.position, 'delete');
    RETURN OLD;
  END IF;
  INSERT INTO event_edits (position, kind) VALUES (LEAST(OLD.position, NEW.position), 'update');
  IF OLD.position <> NEW.position THEN
    INSERT INTO event_edits (position, kind) VALUES (GREATEST(OLD.position, NEW.position), 'update');
  END IF;
  RETURN NEW;
END
"""
PG_EDIT_TRIGGERS: Final = {  # name -> its statement, as pg_get_triggerdef gives it back (schema left out)
    "events_edited": "CREATE TRIGGER events_edited AFTER UPDATE OF "  # PostgreSQL quotes its keyword
    + _EVENT_COLUMNS.replace("position", '"position"', 1)
    + f" ON events FOR EACH ROW EXECUTE FUNCTION {PG_EDIT_FUNCTION}()",
    "events_removed": f"CREATE TRIGGER events_removed AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION "
    f"{PG_EDIT_FUNCTION}()",
}


def _pg_edit_log(conn: Connection) -> None:
    """Make PostgreSQL's edit-log function and triggers where they are missing or differ (under the schema
    lock of `SqlStore.__init__`; DDL on `events` blocks its appends for a moment, so not on every open)."""
    schema = conn.exec_driver_sql("SELECT current_schema()").scalar_one()
    body = conn.exec_driver_sql(
        "SELECT prosrc FROM pg_proc WHERE proname = %(name)s "
        "AND pronamespace = current_schema()::regnamespace", {"name": PG_EDIT_FUNCTION}).scalar_one_or_none()
    if body != PG_EDIT_BODY:
        conn.exec_driver_sql(f"CREATE OR REPLACE FUNCTION {PG_EDIT_FUNCTION}() RETURNS trigger "
                             f"LANGUAGE plpgsql AS $function${PG_EDIT_BODY}$function$")
    found = {name: definition.replace(f"{schema}.", "") for name, definition in conn.exec_driver_sql(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'events'::regclass "
        "AND NOT tgisinternal")}
    for name, statement in PG_EDIT_TRIGGERS.items():
        if found.get(name) != statement:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON events")
            conn.exec_driver_sql(statement)


def _bytes(value: Any) -> bytes:
    """A stored payload as bytes (a row edited by hand may hold text)."""
    return value.encode() if isinstance(value, str) else bytes(value)


class SqlStore:
    """An `EventStore` on a SQLAlchemy engine (build it with `services.store.open_store`)."""

    def __init__(self, engine: Engine, *, clock: Clock = utc_now, page_size: int = 5000) -> None:
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self._engine = engine
        self._clock = clock
        self._page_size = page_size
        self._sqlite = engine.dialect.name == "sqlite"
        with self._write() as conn:
            if not self._sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
            metadata.create_all(conn)
            self._add_parsed(conn)
            for index in ev.indexes:  # indexes added since a store file was created (idempotent)
                index.create(conn, checkfirst=True)
            if self._sqlite:
                mark = select(store_meta.c.value).where(store_meta.c.key == EDITS_BOTH)
                if conn.execute(mark).first() is None:
                    last = conn.execute(select(func.coalesce(func.max(event_edits.c.seq), 0))).scalar_one()
                    conn.execute(insert(store_meta), {"key": EDITS_BOTH, "value": str(last)})
                triggers = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                found = {name: sql for name, sql in conn.exec_driver_sql(triggers)}
                for name, statement in EDIT_TRIGGERS.items():
                    if found.get(name) != statement:  # missing or older: else nothing is written
                        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
                        conn.exec_driver_sql(statement)
            else:
                _pg_edit_log(conn)
            if conn.execute(select(store_head.c.id)).first() is None:
                conn.execute(insert(store_head), {"id": 1, "position": 0})
            if conn.execute(select(store_meta.c.value).where(store_meta.c.key == "store_id")).first() is None:
                conn.execute(insert(store_meta), {"key": "store_id", "value": str(uuid4())})

    def _add_parsed(self, conn: Connection) -> None:
        """The `parsed` column, added to a store made before it (NULL in its rows: `fill_parsed`)."""
        if self._sqlite:
            names = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(events)")}
            if "parsed" not in names:
                conn.exec_driver_sql("ALTER TABLE events ADD COLUMN parsed BLOB")
        else:  # looked up first: ALTER TABLE locks the table even where the column is there
            q = ("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
                 "AND table_name = 'events' AND column_name = 'parsed'")
            if conn.exec_driver_sql(q).first() is None:
                conn.exec_driver_sql("ALTER TABLE events ADD COLUMN parsed BYTEA")

    def fill_parsed(self, batch: int = 20_000) -> int:
        """Give every row without a `parsed` line the line of its payload (a store made before the column,
        or rows whose payload had none: they stay NULL): SQLite stores; the number of rows given one.
        Each batch is its own write transaction, so appends go on between them."""
        if not self._sqlite:
            return 0
        done, after = 0, 0
        while True:
            with self._write() as conn:
                q = select(ev.c.position, ev.c.payload).where(ev.c.position > after, ev.c.parsed.is_(None)) \
                    .order_by(ev.c.position).limit(batch)
                rows = conn.execute(q).all()
                if not rows:
                    return done
                lines = parsed.encode([_bytes(r.payload) for r in rows])
                values = [(line, r.position) for r, line in zip(rows, lines, strict=True) if line is not None]
                if values:
                    conn.exec_driver_sql("UPDATE events SET parsed = ? WHERE position = ? AND parsed IS NULL",
                                         values)
                done += len(values)
                after = rows[-1].position

    def store_id(self) -> str:
        """The random id the store was given when it was created (`tables.store_meta`)."""
        with self._engine.connect() as conn:
            q = select(store_meta.c.value).where(store_meta.c.key == "store_id")
            return str(conn.execute(q).scalar_one())

    @property
    def engine(self) -> Engine:
        """The engine, for read-only queries of other services (e.g. audit hashing the stored bytes)."""
        return self._engine

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction (SQLite: BEGIN IMMEDIATE, see `sqlite_engine`)."""
        with self._engine.connect() as conn:
            conn.execution_options(casestream_write=True)
            with conn.begin():
                yield conn

    def append(
        self, events: Sequence[Event], *, expected_version: dict[str, int] | None = None
    ) -> AppendResult:
        if not events and not expected_version:
            return AppendResult()
        try:
            with self._write() as conn:
                return self._append(conn, events, expected_version)
        except IntegrityError as exc:  # unreachable while every writer takes the head lock
            raise StoreError(f"the store refused the batch: {exc.orig}") from None
        except OperationalError as exc:  # disk full, database locked too long, server gone
            # The transaction did not commit (or its commit was not confirmed): the batch is atomic and
            # appends are idempotent by event_id, so sending the same batch again is always safe.
            raise StoreError(f"the store could not write the batch ({len(events)} events); nothing was "
                             f"confirmed and it is safe to append it again: {exc.orig}") from None

    def _append(
        self, conn: Connection, events: Sequence[Event], expected: dict[str, int] | None
    ) -> AppendResult:
        head_q = select(store_head.c.position).where(store_head.c.id == 1)
        head = conn.execute(head_q if self._sqlite else head_q.with_for_update()).scalar_one()
        now = self._clock()  # taken under the lock, so appended_at never decreases along positions
        prepared = prepare(events, now)
        check_versions(expected, lambda streams: self._versions(conn, streams))
        todo = plan(events, prepared, self._stored(conn, [e.event_id for e in events]))
        accepted = self._insert(conn, todo, head, now)
        if accepted:
            conn.execute(update(store_head).where(store_head.c.id == 1).values(position=head + len(accepted)))
        return AppendResult(accepted=accepted, duplicates=todo.duplicates, conflicts=todo.conflicts,
                            conflict_ids=todo.conflict_ids)

    def _insert(self, conn: Connection, todo: Plan, head: int, now: datetime) -> list[Event]:
        versions = dict(self._versions(conn, todo.streams))
        rows: list[EventRow] = []
        accepted: list[Event] = []
        lines = parsed.encode([item.payload for item in todo.new]) if self._sqlite else [None] * len(todo.new)
        for i, item in enumerate(todo.new):
            position, line, e = head + 1 + i, lines[i], item.event
            assert e.recorded_at is not None  # prepare() filled it
            versions[e.stream_id] = versions.get(e.stream_id, 0) + 1
            rows.append(EventRow(position, e.event_id, e.stream_id, versions[e.stream_id], e.type, e.version,
                                 e.municipality, e.business_date, e.recorded_at, now, item.payload, line))
            accepted.append(stamped(e, position, now))
        insert_rows(conn, rows)
        return accepted

    def _among(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        """`column IN (values)`; on PostgreSQL `= ANY(array)`, one parameter instead of thousands."""
        if self._sqlite:
            return column.in_(values)
        return column == any_(literal(list(values), ARRAY(column.type)))

    def _versions(self, conn: Connection, streams: Iterable[str]) -> Mapping[str, int]:
        out: dict[str, int] = {}
        wanted = sorted(set(streams))
        for i in range(0, len(wanted), CHUNK):
            q = (select(ev.c.stream_id, func.max(ev.c.stream_version))
                 .where(self._among(ev.c.stream_id, wanted[i:i + CHUNK])).group_by(ev.c.stream_id))
            out.update({stream: version for stream, version in conn.execute(q)})
        return out

    def _stored(self, conn: Connection, ids: list[UUID]) -> dict[UUID, Event]:
        out: dict[UUID, Event] = {}
        for i in range(0, len(ids), CHUNK):
            chunk = ids[i:i + CHUNK]
            q = select(ev.c.position, ev.c.appended_at, ev.c.payload).where(self._among(ev.c.event_id, chunk))
            for row in conn.execute(q):
                event = row_event(row)
                out[event.event_id] = event
        return out

    def get(self, event_id: UUID) -> Event | None:
        q = select(ev.c.position, ev.c.appended_at, ev.c.payload).where(ev.c.event_id == event_id)
        with self._engine.connect() as conn:
            row = conn.execute(q).first()
        return None if row is None else row_event(row)

    def read_all(self, after: int = 0, limit: int | None = None,
                 known_at: datetime | None = None) -> Iterator[Event]:
        cutoff = None if known_at is None else as_aware(known_at)
        remaining = limit
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(self._page_size, remaining)
            rows = self._page(after, size, cutoff)
            for row in rows:
                yield row_event(row)
            if len(rows) < size:
                return
            after = rows[-1].position
            if remaining is not None:
                remaining -= len(rows)

    def _page(self, after: int, size: int, cutoff: datetime | None) -> Sequence[Any]:
        q = select(ev.c.position, ev.c.appended_at, ev.c.payload).where(ev.c.position > after)
        if cutoff is not None:
            q = q.where(ev.c.recorded_at <= cutoff)
        with self._engine.connect() as conn:
            return conn.execute(q.order_by(ev.c.position).limit(size)).all()

    def read_stream(self, stream_id: str) -> list[Event]:
        q = (select(ev.c.position, ev.c.appended_at, ev.c.payload)
             .where(ev.c.stream_id == stream_id).order_by(ev.c.stream_version))
        with self._engine.connect() as conn:
            return [row_event(row) for row in conn.execute(q)]

    def stream_version(self, stream_id: str) -> int:
        with self._engine.connect() as conn:
            return self._versions(conn, [stream_id]).get(stream_id, 0)

    def head(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(store_head.c.position).where(store_head.c.id == 1)).scalar_one())

    def close(self) -> None:
        self._engine.dispose()
