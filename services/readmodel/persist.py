"""Opening the read-model database and writing a batch of facts with its positions in ONE transaction.

A fact row is inserted "or ignored" by event id, and a position only moves forward, so a replayed
batch changes nothing (exactly-once effect over at-least-once delivery, CONVENTIONS §5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import Any, Final

from sqlalchemy import Connection, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import create_engine

from services.readmodel.tables import (
    FACT_COLUMNS,
    PROJECTIONS,
    ProjectionPosition,
    ReadModelGeneration,
    RelayPosition,
    check_layout,
    create_all,
    fact_table,
)
from services.settings import Settings
from services.store import beside

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def readmodel_url(settings: Settings) -> str:
    """`readmodel_db`, else beside the store: `x.db` -> `x.readmodel.db`; PostgreSQL shares the database."""
    if settings.readmodel_db:
        return settings.readmodel_db
    db = settings.db
    sibling = beside(db, "readmodel")
    if sibling is not None:
        return sibling
    if db.startswith("postgresql"):
        return db
    raise ValueError(f"store {db!r} has no read-model database beside it; set CASESTREAM_READMODEL_DB")


def open_readmodel(url: str) -> Engine:
    """An engine on the read-model database with its tables created (SQLite: WAL, 30 s busy timeout)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    create_all(engine)
    return engine


PAGE_BYTES: Final = 65536  # a new read-model file's page size (an existing file keeps its own)
CHECKPOINT_BYTES: Final = 80 * 1024 * 1024  # WAL checkpoint every ~80 MiB of frames


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """WAL, synchronous=NORMAL, a 64 MiB cache; 64 KiB pages for a new file (a no-op on an existing one).

    The page size: a batch's fact rows (~400 B each) are appended in key order, so each commit writes
    its new pages to the WAL, one write per page frame; with 4 KiB pages that was ~3 µs of the
    commit per event, with 64 KiB pages ~0.5 µs (docs/design.md "Read models")."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA page_size={PAGE_BYTES}")  # takes effect only before the file's first table
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA cache_size=-65536")  # 64 MiB: a batch touches pages all over the position key
    page = cur.execute("PRAGMA page_size").fetchone()[0]
    cur.execute(f"PRAGMA wal_autocheckpoint={max(CHECKPOINT_BYTES // page, 100)}")
    cur.close()


def micros(value: datetime | None) -> int | None:
    """A datetime as whole microseconds since 1970 UTC (exact, comparable in SQL)."""
    if value is None:
        return None
    return (value - EPOCH) // MICROSECOND


def insert_ignore(conn: Connection, table: Any) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


@dataclass(frozen=True, slots=True)
class PartitionMark:
    """Where a partition stands after a batch: highest position, its offset, messages applied."""

    position: int
    offset: int
    events: int


def generations(conn: Connection) -> dict[str, int]:
    rows = conn.execute(select(ReadModelGeneration.projection, ReadModelGeneration.generation)).all()  # type: ignore[call-overload]
    found = {p: g for p, g in rows}
    return {p: found.get(p, 0) for p in PROJECTIONS}


def check_live_layout(engine: Engine) -> None:
    """The writer's start-up check: every live fact table has this version's columns (`OldLayout`)."""
    with engine.connect() as conn:
        live = generations(conn)
    for projection, generation in live.items():
        check_layout(engine, fact_table(projection, generation).name)


def load_positions(engine: Engine) -> dict[tuple[str, int], tuple[int, int]]:
    """{(projection, partition): (position, offset)} as committed."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                ProjectionPosition.projection,
                ProjectionPosition.partition,  # type: ignore[call-overload]
                ProjectionPosition.position,
                ProjectionPosition.offset,
            )
        ).all()
    return {(p, part): (pos, off) for p, part, pos, off in rows}


def _marks(conn: Connection, n: int) -> str:
    return ", ".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


ROWS_PER_STATEMENT: Final = 500  # 2 500 parameters: under SQLite's 32 766 and PostgreSQL's 65 535


def _insert_facts(conn: Connection, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert-or-ignore the rows, several to a statement: `executemany` ran one statement per row, and
    SQLite's Python driver then paid its per-statement overhead (reset, bind, step, GIL) per event;
    500 rows to one INSERT measured ~18 % less CPU per row (docs/design.md "Read models")."""
    one = f"({_marks(conn, len(FACT_COLUMNS))})"
    head = f"INSERT INTO {table} ({', '.join(FACT_COLUMNS)}) VALUES "
    for at in range(0, len(rows), ROWS_PER_STATEMENT):
        part = rows[at : at + ROWS_PER_STATEMENT]
        sql = head + ", ".join([one] * len(part)) + " ON CONFLICT (position) DO NOTHING"
        conn.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


def write_batch(
    engine: Engine,
    facts: Mapping[str, Sequence[tuple[Any, ...]]],
    marks: Mapping[int, PartitionMark],
    projections: Iterable[str] = PROJECTIONS,
) -> None:
    """Insert the fact rows of every projection and move its positions, in one transaction.

    Each projection's rows come in position order (the key order: fewer page splits);
    `services.readmodel.facts.decode_batch` builds them so.

    Plain driver statements (SQLAlchemy's per-row parameter processing cost more than the database
    work here), the fact rows `ROWS_PER_STATEMENT` to one multi-row INSERT (`_insert_facts`). Both
    SQLite and PostgreSQL speak `ON CONFLICT … DO NOTHING / DO UPDATE`.
    """
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # serialise against a rebuild's switch-over
            conn.execute(select(ReadModelGeneration).with_for_update())
        live = generations(conn)
        names = list(projections)
        for projection in names:
            rows = facts.get(projection)
            if rows:
                _insert_facts(conn, fact_table(projection, live[projection]).name, rows)
        move = (
            f'INSERT INTO projection_position (projection, partition, position, "offset", events) '
            f"VALUES ({_marks(conn, 5)}) ON CONFLICT (projection, partition) DO UPDATE SET "
            'position = excluded.position, "offset" = excluded."offset", '
            "events = projection_position.events + excluded.events "
            "WHERE excluded.position > projection_position.position"
        )
        conn.exec_driver_sql(
            move, [(p, part, m.position, m.offset, m.events) for p in names for part, m in marks.items()]
        )


def relay_position(engine: Engine, topic: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(select(RelayPosition.position).where(RelayPosition.topic == topic)).scalar()  # type: ignore[call-overload]
    return int(found or 0)


def set_relay_position(engine: Engine, topic: str, position: int) -> None:
    t = RelayPosition.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(insert_ignore(conn, t), [{"topic": topic, "position": 0}])
        conn.execute(update(t).where(t.c.topic == topic).values(position=position))
