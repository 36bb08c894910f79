"""`casestream rebuild PROJECTION`: refill a projection's read model from the store, switch with no downtime.

1. Create the next generation's fact table (`rm_<projection>_g<N>`), empty.
2. Fold the store into it in position order (the relevant events only), in pages, until a page finds
   nothing new (caught up with the store's head at that moment). Readers and workers keep using the
   live generation meanwhile.
3. In ONE transaction: take the write lock by moving the generation pointer, then copy from the old
   generation the facts the workers applied after the rebuild's last position. Workers read the
   pointer inside their own batch transaction, so every later batch lands in the new table; rows
   are keyed by store position, so nothing is counted twice. Readers see the old or the new generation,
   both complete. The old table stays (for inspection) until a later rebuild replaces it.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from events import encode
from services.readmodel.facts import fact_row, relevant
from services.readmodel.persist import generations, insert_ignore
from services.readmodel.tables import FACT_COLUMNS, ReadModelGeneration, fact_table
from services.store.base import EventStore

Progress = Callable[[int, int], None]  # (position reached, store head)
PAGE = 5000


def rebuild(
    store: EventStore,
    engine: Engine,
    projection: str,
    progress: Progress | None = None,
    page_size: int = PAGE,
) -> int:
    """Rebuild `projection` into a new generation and switch to it; returns the new generation."""
    with engine.connect() as conn:
        old = generations(conn)[projection]
    new = old + 1
    table = fact_table(projection, new)
    table.drop(engine, checkfirst=True)  # a leftover of an interrupted rebuild
    table.create(engine)
    cursor = 0
    while True:
        page = list(store.read_all(after=cursor, limit=page_size))
        if not page:
            break
        rows = [
            dict(zip(FACT_COLUMNS, fact_row(e, encode(e), -1), strict=True))
            for e in page
            if projection in relevant(e)
        ]
        with engine.begin() as conn:
            if rows:
                conn.execute(insert_ignore(conn, table), rows)
        cursor = page[-1].position or cursor
        if progress is not None:
            progress(cursor, max(store.head(), cursor))
    _switch(engine, projection, old, new, cursor)
    return new


def _switch(engine: Engine, projection: str, old: int, new: int, cursor: int) -> None:
    g = ReadModelGeneration.__table__  # type: ignore[attr-defined]
    old_name, new_name = fact_table(projection, old).name, fact_table(projection, new).name
    cols = ", ".join(FACT_COLUMNS)
    with engine.begin() as conn:
        conn.execute(insert_ignore(conn, g), [{"projection": projection, "generation": old}])
        if conn.dialect.name == "postgresql":
            conn.execute(select(g).with_for_update())
        conn.execute(g.update().where(g.c.projection == projection).values(generation=new))  # the write lock
        conn.execute(
            text(
                f"INSERT INTO {new_name} ({cols}) SELECT {cols} FROM {old_name} "
                "WHERE position > :cursor ON CONFLICT (position) DO NOTHING"
            ),
            {"cursor": cursor},
        )
