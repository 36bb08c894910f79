"""Stored rows for the columnar replay, a page at a time, in position order (read ahead by a thread).

A page is a `PageRows` (columns, `services.audit.page_rows`). From a SQLite file the rows are read
through ADBC (`adbc_driver_sqlite`, Apache Arrow's database connectivity: SQLite's rows into Arrow
columns in C, with the GIL released), each payload followed by its newline in SQL so that the
page's joined bytes are one Arrow buffer. Measured on the 10 M store: 1.4-1.5 µs of CPU a row
against 2.7-3.2 through the DBAPI cursor, whose tuples are built holding the GIL (a thread spinning
beside the reads kept 92 % of its pace with ADBC, 78 % with the cursor). Other databases (PostgreSQL)
and a SQLite database in memory are read through the DBAPI cursor as plain tuples: SQLAlchemy's Row
objects cost ~2 µs a row here.
"""

from __future__ import annotations

import queue
import threading
import typing
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, TypeVar
from urllib.parse import quote

import pyarrow as pa
from sqlalchemy import Engine, LargeBinary, String, cast, func, literal_column, select, type_coerce

from events.timeutil import as_aware
from services.audit import arrow_columns as ac
from services.audit.page_rows import PageRows
from services.audit.source import Scope
from services.store import parsed as stored_lines
from services.store.sql import SqlStore
from services.store.tables import events_table as ev

PAGE: Final = 20_000
T = TypeVar("T")


def _columns(arrow: bool, lines: bool) -> list[Any]:
    if not arrow:  # values as the driver gives them
        return [ev.c.position, type_coerce(ev.c.event_id, String), type_coerce(ev.c.appended_at, String),
                ev.c.payload]
    # SQLite through ADBC: ids and times as text and each payload with its newline as a blob, whatever a
    # row edited by hand holds (a TEXT payload, say): ADBC types a column by its values; `lines`: the
    # rows' parsed lines too, each with its newline (NULL where a row has none)
    newline: Any = literal_column("x'0a'")
    return [ev.c.position, cast(ev.c.event_id, String), cast(ev.c.appended_at, String),
            cast(ev.c.payload.op("||")(newline), LargeBinary),
            *([cast(ev.c.parsed.op("||")(newline), LargeBinary)] if lines else [])]


def _query(scope: Scope, after: int, through: int | None, *, arrow: bool = False, lines: bool = False) -> Any:
    q = select(*_columns(arrow, lines)).where(ev.c.position > after, *_recorded(scope))
    bounds = [b for b in (scope.upto, through) if b is not None]
    if bounds:  # one upper bound: given two, SQLite bounded the index range by one and tested the other
        q = q.where(ev.c.position <= min(bounds))  # on every row up to the head (measured: 72 µs a row)
    return q.order_by(ev.c.position)


def _recorded(scope: Scope) -> list[Any]:
    """The conditions on a row of `scope` besides its position: recorded by known-at, of its municipality."""
    out = []
    if scope.known_at is not None:
        out.append(ev.c.recorded_at <= as_aware(scope.known_at))
    if scope.municipality is not None:
        out.append(ev.c.municipality == scope.municipality)
    return out


def bounded(store: SqlStore, scope: Scope) -> Scope:
    """`scope` with `upto` no later than the last row of its municipality recorded by its known-at time.

    The pages of such a scope come through the (municipality, position) index, each row tested for
    its record time; past the last included row every row of the municipality up to the head was
    still read and refused (on the 10 M store, as known at the end of 2022: 1.06 M rows, 2.5 s of
    the 6.7 s the reads took). The (municipality, recorded_at) index answers that last position from
    its entries alone (0.2 s for the 1.44 M rows of that scope). The query has no position bound:
    with one, SQLite's planner took the (municipality, position) index and looked up every row
    (2.0 s). A whole store's scope is left as it is: its last position by record time would scan the
    recorded_at index over every row up to it.
    """
    if scope.municipality is None or scope.known_at is None:
        return scope
    q = select(func.max(ev.c.position)).where(*_recorded(scope))
    with store._engine.connect() as conn:  # read-only query
        last = conn.execute(q).scalar_one_or_none()
    last = 0 if last is None else int(last)
    return replace(scope, upto=last if scope.upto is None else min(last, scope.upto))


@dataclass(frozen=True, slots=True)
class Bound:
    """What a replay found `bounded` to be, kept with a checkpoint: `last`, the scope's last row recorded by
    `known_at`, when the store's head was `head`."""

    known_at: datetime
    last: int
    head: int


NEAR: Final = 200_000  # positions appended since a Bound that `bounded_from` looks through row by row


def prefix_end(store: SqlStore, scope: Scope, after: int = 0) -> int:
    """The highest P such that every row of the scope up to P is recorded by its known-at time (and P
    at most its head): the position before its first row recorded later.

    `after`: every row of the scope up to it is known to be recorded by then (a prefix checkpoint's):
    the rows after it are tested in position order, up to the first one recorded later (the rows the
    replay then folds; 0.05 s for a month of the 10 M store, where every later row's index entry
    took 0.19 s)."""
    head = store.head() if scope.upto is None else scope.upto
    if scope.known_at is None:
        return head
    late = ev.c.recorded_at > as_aware(scope.known_at)
    q = select(func.min(ev.c.position)).where(late)
    if after:
        q = select(ev.c.position).where(late, ev.c.position > after).order_by(ev.c.position).limit(1)
    if scope.municipality is not None:
        q = q.where(ev.c.municipality == scope.municipality)  # the (municipality, recorded_at) index
    with store._engine.connect() as conn:
        first = conn.execute(q).scalar_one_or_none()
    return head if first is None else min(head, int(first) - 1)


def bounded_from(store: SqlStore, scope: Scope, since: Bound | None) -> Scope:
    """`bounded`, from what an earlier replay of the scope's municipality found for an earlier (or the
    same) record time `since.known_at`, when no row up to its head has changed since (the caller checks
    the store's edit log): the last row recorded by then, the last one recorded in between (the
    (municipality, recorded_at) index over that stretch only: 8 ms for a month of the 10 M store, where
    the whole stretch took 0.3 s), and the last one appended since recorded by the scope's known-at
    (the (municipality, position) index from the old head, when fewer than NEAR positions were appended
    since). Else `bounded`."""
    if since is None or scope.municipality is None or scope.known_at is None:
        return bounded(store, scope)
    known, head = as_aware(scope.known_at), store.head()
    if since.known_at > known or since.head > head or head - since.head > NEAR:
        return bounded(store, scope)
    last = since.last
    queries = [select(func.max(ev.c.position)).where(*_recorded(scope), ev.c.recorded_at > since.known_at)]
    if head > since.head:
        queries.append(select(ev.c.position).where(*_recorded(scope), ev.c.position > since.head)
                       .order_by(ev.c.position.desc()).limit(1))
    with store._engine.connect() as conn:  # read-only queries
        for q in queries:
            found = conn.execute(q).scalar_one_or_none()
            last = max(last, 0 if found is None else int(found))
    return replace(scope, upto=last if scope.upto is None else min(last, scope.upto))


class Reader:
    """Reads pages of a store's rows: through ADBC from a SQLite file, else through the DBAPI cursor."""

    def __init__(self, engine: Engine, *, arrow: bool | None = None, lines: bool = True) -> None:
        """`arrow`: read through ADBC (None: for a SQLite file; False: the cursor, as for other databases).
        `lines`: with ADBC, read the store's parsed lines too (`services.store.parsed`), for the pages
        whose every row has one and none of which the edit log names; False: every page is parsed from
        its payloads (`casestream verify`)."""
        self._engine = engine
        self._adbc: Any = None
        self._edited: stored_lines.Edited | None = None
        url = engine.url
        file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
        if arrow and not file:
            raise ValueError(f"ADBC reads a SQLite file, not {url.render_as_string()}")
        if file and arrow is not False:
            # The SQLite store's reader (module docstring), through ADBC's own API: its DB-API module
            # imports pyarrow.dataset and so pandas (0.6 s of an as-of replay's ~1 s from a checkpoint).
            import adbc_driver_manager
            import adbc_driver_sqlite

            self._database = adbc_driver_sqlite.connect(f"file:{quote(str(url.database))}?mode=ro")
            self._adbc = adbc_driver_manager.AdbcConnection(self._database)  # read-only
            if lines:
                with engine.connect() as conn:  # read-only query
                    self._edited = stored_lines.edited(conn)

    def fetch(self, scope: Scope, after: int, through: int | None, limit: int | None = None) -> PageRows:
        """The rows in scope with positions above `after` (up to `through`), in order, `limit` at most."""
        q = _query(scope, after, through, arrow=self._adbc is not None, lines=self._edited is not None)
        if limit is not None:
            q = q.limit(limit)
        if self._adbc is None:
            with self._engine.connect() as conn:  # read-only query
                # the DBAPI cursor's plain tuples: SQLAlchemy's Row objects cost ~2 µs a row here
                rows = conn.execute(q).cursor.fetchall()
                return PageRows.from_tuples(typing.cast(list[tuple[Any, ...]], rows))
        import adbc_driver_manager

        sql, params = _sqlite(self._engine, q)
        statement = adbc_driver_manager.AdbcStatement(self._adbc)
        try:
            statement.set_options(**{"adbc.sqlite.query.batch_rows": str(PAGE)})
            statement.set_sql_query(sql)
            if params:
                statement.bind(_parameters(params))
            stream, _ = statement.execute_query()
            rows = PageRows.from_arrow(pa.RecordBatchReader._import_from_c(stream.address).read_all())
            if rows.parsed is not None and self._edited is not None and self._edited.touches(rows.positions):
                rows.parsed = None  # a row edited behind the store's back: parsed from the payloads
            return rows
        finally:
            statement.close()

    def close(self) -> None:
        if self._adbc is not None:
            self._adbc.close()
            self._database.close()
            self._adbc = None

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _parameters(params: list[Any]) -> pa.RecordBatch:
    """A query's parameters as the one-row batch ADBC binds (integers and texts: positions,
    municipality codes and record times; built from buffers, see `arrow_columns.indices`)."""
    columns = []
    for value in params:
        if isinstance(value, int) and not isinstance(value, bool):
            columns.append(ac.indices([value]))
        elif isinstance(value, str):
            columns.append(ac.strings([value]))
        else:
            raise TypeError(f"a page query's parameter is a {type(value).__name__}, not an int or a str")
    return pa.RecordBatch.from_arrays(columns, names=[f"p{i}" for i in range(len(columns))])


def _sqlite(engine: Engine, q: Any) -> tuple[str, list[Any]]:
    """A query as SQLite text and its parameters, bound as SQLAlchemy binds them (record times as the
    store's text)."""
    compiled = q.compile(dialect=engine.dialect)
    given, params = compiled.construct_params(), []
    for name in compiled.positiontup or ():
        process = compiled.binds[name].type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        params.append(process(given[name]) if process is not None else given[name])
    return str(compiled), params


def pages(store: SqlStore, scope: Scope, after: int = 0, lines: bool = True) -> Iterator[PageRows]:
    """The rows in scope with positions above `after`, a page at a time.

    One municipality's rows come through the (municipality, position) index. Reading position ranges
    in primary-key order and testing the municipality on each row was tried: 1.8 times as fast on the
    1 M store, 3.5 times as slow on the 10 M one (40 s against 11.4 s for 1.44 M rows), where it reads
    every other municipality's rows and those recorded after known-at too.
    """
    with Reader(store._engine, lines=lines) as reader:  # the store's own engine
        while True:
            rows = reader.fetch(scope, after, None, PAGE)
            if len(rows):
                yield rows
            if len(rows) < PAGE:
                return
            after = int(rows.positions[-1])


def page_between(reader: Reader, scope: Scope, after: int, through: int) -> PageRows:
    """The rows in scope with positions in (after, through], in position order."""
    return reader.fetch(scope, after, through)


def parsed_ahead(source: Iterator[PageRows]) -> Iterator[PageRows]:
    """`source`'s pages, each parsed by Arrow as it is read (`PageRows.table`): under `prefetched`,
    in the reading thread, beside the folding of the page before (Arrow's JSON reader holds no GIL;
    it was half of a rebuild's time in the folding thread)."""
    for rows in source:
        rows.table()
        yield rows


def prefetched(source: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`source`'s pages, read ahead by a thread (SQLite reads with the GIL released, beside the folding).

    At most `depth` pages wait; an error in the reader is raised here; leaving early stops the reader.
    """
    pending: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def read() -> None:
        try:
            for page in source:
                while not stop.is_set():
                    try:
                        pending.put(("page", page), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pending.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            pending.put(("error", exc))

    reader = threading.Thread(target=read, name="replay-pages", daemon=True)
    reader.start()
    try:
        while True:
            kind, value = pending.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        while reader.is_alive():
            try:
                pending.get_nowait()
            except queue.Empty:
                reader.join(timeout=0.05)
