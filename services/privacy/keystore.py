"""The key store: one random AES-256 key per key holder, in its own database, apart from the event log.

Tables (SQLModel, on their own metadata so no other database grows them):

* `privacy_keys` — one row per key: `key_id` (the id a sealed part names), `holder` (a person pseudonym,
  or `stream:<stream_id>` for a personal field on an event that names no person), the 32-byte
  `secret`, `created_at`; shredding sets `secret` to NULL and stamps `shredded_at` and the policy. The
  row stays as a tombstone, so "shredded" can be told from "never existed", and a later key for the
  same holder is a new one (`<holder>#2`, …): nothing sealed before the shredding opens again.
* `privacy_stream_persons` — which person each stream's events name (public facts, copied from the
  log), so a person's stream keys are shredded with the person.

Shredding must remove the bytes, not only the row: SQLite runs with `secure_delete=ON` (a deleted
value is overwritten with zeros) and, after shredding, checkpoints and truncates its WAL (which held
the old page images); on PostgreSQL the table is vacuumed after shredding. Copies outside the database
(backups, file-system blocks freed earlier) are an operational matter: docs/privacy.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, MetaData, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, Session, SQLModel, col, select, update

from services.privacy.crypto import new_key
from services.store.base import StoreError

LINK_CACHE = 200_000  # (stream, person) pairs a process remembers as already recorded


class _KeyBase(SQLModel):
    metadata = MetaData()


class PersonKey(_KeyBase, table=True):
    __tablename__ = "privacy_keys"

    key_id: str = Field(primary_key=True, max_length=220)
    holder: str = Field(index=True, max_length=220)
    secret: bytes | None = None
    created_at: datetime
    shredded_at: datetime | None = None
    shredded_by: str | None = Field(default=None, max_length=220)


class StreamPerson(_KeyBase, table=True):
    __tablename__ = "privacy_stream_persons"

    stream_id: str = Field(primary_key=True, max_length=200)
    person: str = Field(primary_key=True, index=True, max_length=64)


def _stored(value: Any, sqlite: bool) -> Any:
    """A value as the columns hold it: SQLite datetimes as SQLAlchemy's naive UTC ISO text; PostgreSQL
    takes the aware datetime (timestamptz)."""
    if sqlite and isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def stream_holder(stream_id: str) -> str:
    return f"stream:{stream_id}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def open_engine(url: str) -> Engine:
    """An engine on the key store with its tables created; `memory://` is a throwaway in-memory one."""
    if url in ("memory://", "memory:"):
        engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
    else:
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    _KeyBase.metadata.create_all(engine)
    return engine


class KeyStore:
    """Keys per holder: fetch-or-create for sealing, lookup for opening, shredding for gallring.

    The database is opened on first use, so a process that only reads the event log never touches it.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._linked: set[tuple[str, str]] = set()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = open_engine(self.url)
            except SQLAlchemyError as exc:
                raise StoreError(f"cannot open the key store {self.url.split('@')[-1]}: {exc}") from None
        return self._engine

    def live_keys(self, holders: Iterable[str]) -> dict[str, tuple[str, bytes]]:
        """holder -> (key id, secret) of its live key, creating the missing ones (one query each way)."""
        wanted = set(holders)
        found = self._live(wanted)
        missing = wanted - found.keys()
        if missing:
            generations = self._generations(missing)
            now = datetime.now(UTC)
            rows = [{"key_id": h if generations.get(h, 0) == 0 else f"{h}#{generations[h] + 1}",
                     "holder": h, "secret": new_key(), "created_at": now} for h in sorted(missing)]
            self._insert_ignore(PersonKey, rows)
            found.update(self._live(missing))
        return found

    def _live(self, holders: set[str]) -> dict[str, tuple[str, bytes]]:
        if not holders:
            return {}
        query = select(PersonKey.holder, PersonKey.key_id, PersonKey.secret).where(
            col(PersonKey.holder).in_(holders), col(PersonKey.secret).is_not(None))
        with Session(self.engine) as session:
            return {h: (k, s) for h, k, s in session.exec(query) if s is not None}

    def _generations(self, holders: set[str]) -> dict[str, int]:
        query = select(PersonKey.holder, PersonKey.key_id).where(col(PersonKey.holder).in_(holders))
        counts: dict[str, int] = {}
        with Session(self.engine) as session:
            for holder, _ in session.exec(query):
                counts[holder] = counts.get(holder, 0) + 1
        return counts

    def had_keys(self, holders: Iterable[str]) -> set[str]:
        """The holders with at least one shredded key (a re-append may need the stored sealed form)."""
        query = select(PersonKey.holder).where(
            col(PersonKey.holder).in_(set(holders)), col(PersonKey.secret).is_(None))
        with Session(self.engine) as session:
            return set(session.exec(query))

    def _insert_ignore(self, table: type[SQLModel], rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # Straight to the driver (executemany of one plain statement): SQLAlchemy's compilation and
        # bind processing cost more than the database for these small rows. Both SQLite and
        # PostgreSQL accept ON CONFLICT DO NOTHING.
        names = list(rows[0])
        sqlite = self.engine.dialect.name == "sqlite"
        mark = "?" if sqlite else "%s"
        statement = (f"INSERT INTO {table.__tablename__} ({', '.join(names)}) "
                     f"VALUES ({', '.join(mark for _ in names)}) ON CONFLICT DO NOTHING")
        with self.engine.begin() as conn:
            conn.exec_driver_sql(statement, [tuple(_stored(r[n], sqlite) for n in names) for r in rows])

    def link(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Record (stream, person) pairs seen on appended events (each new pair once per process)."""
        new = set(pairs) - self._linked
        if new:
            self._insert_ignore(StreamPerson, [{"stream_id": s, "person": p} for s, p in sorted(new)])
            if len(self._linked) > LINK_CACHE:  # a bulk load of millions: keep the memory bounded
                self._linked.clear()
            self._linked |= new

    def streams_of(self, person: str) -> list[str]:
        query = select(StreamPerson.stream_id).where(StreamPerson.person == person)
        with Session(self.engine) as session:
            return sorted(session.exec(query))

    def key(self, key_id: str) -> PersonKey | None:
        with Session(self.engine) as session:
            return session.get(PersonKey, key_id)

    def holders_of(self, person: str) -> set[str]:
        """The person's own holder and the holders of the streams that name them."""
        return {person, *(stream_holder(s) for s in self.streams_of(person))}

    def done(self, persons: Iterable[str]) -> set[str]:
        """Persons already shredded: a tombstone for the person and no live key among their holders."""
        wanted = set(persons)
        with Session(self.engine) as session:
            dead = set(session.exec(select(PersonKey.holder).where(
                col(PersonKey.holder).in_(wanted), col(PersonKey.secret).is_(None))))
            links = list(session.exec(select(StreamPerson.stream_id, StreamPerson.person).where(
                col(StreamPerson.person).in_(dead))))
            holders_of = {p: {p} for p in dead}
            for stream, person in links:
                holders_of[person].add(stream_holder(stream))
            every = set().union(*holders_of.values()) if holders_of else set()
            live = set(session.exec(select(PersonKey.holder).where(
                col(PersonKey.holder).in_(every), col(PersonKey.secret).is_not(None))))
        return {p for p in dead if not holders_of[p] & live}

    def shred(self, persons: Iterable[str], reason: str) -> int:
        """Delete the keys of the persons and of their streams; tombstone a person without a key.

        Returns the number of keys destroyed. Idempotent: a shredded key stays shredded."""
        people = sorted(set(persons))
        holders = set().union(*(self.holders_of(p) for p in people)) if people else set()
        now = datetime.now(UTC)
        tomb = [{"key_id": p, "holder": p, "secret": None, "created_at": now, "shredded_at": now,
                 "shredded_by": reason} for p in people]
        with Session(self.engine) as session:
            result = session.exec(update(PersonKey).where(
                col(PersonKey.holder).in_(holders), col(PersonKey.secret).is_not(None)).values(
                secret=None, shredded_at=now, shredded_by=reason))
            session.commit()
            destroyed = int(result.rowcount)
        self._insert_ignore(PersonKey, tomb)
        self._vacuum()
        return destroyed

    def _vacuum(self) -> None:
        """PostgreSQL keeps a dead row version until vacuumed; SQLite's WAL keeps old page images."""
        statement = "VACUUM privacy_keys" if self.engine.dialect.name == "postgresql" else \
            "PRAGMA wal_checkpoint(TRUNCATE)"
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(statement))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
