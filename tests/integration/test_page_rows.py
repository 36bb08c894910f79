"""Pages of stored rows read through ADBC equal those read through the DBAPI cursor (`services.audit.pages`).

The replay reads a SQLite file through ADBC, each payload followed by its newline in SQL; the cursor
is the way for other databases. Both must give the same positions, ids, appended times and stored
bytes, byte for byte, also for rows edited behind the store's back (a TEXT payload, bytes that are not
UTF-8, an empty payload), and a page must survive the pipe to a reader process.
"""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import orjson
import pytest
from sqlalchemy import create_engine

from projections.definitions import ALL_PROJECTIONS
from services.audit import digest, pages
from services.audit.page_rows import PageRows
from services.audit.replay import rebuild
from services.audit.source import Scope
from services.store import open_store
from tests.integration.test_replay_fast import history, store_of


@pytest.fixture(scope="module")
def store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("page_rows") / "store.db"
    store_of(path, history(3, 0.1))
    with sqlite3.connect(path) as db:  # rows edited by hand, as a tamperer would
        db.execute("UPDATE events SET payload = CAST(payload AS TEXT) WHERE position = 5")
        db.execute("UPDATE events SET payload = X'7b22ff22fe7d' WHERE position = 9")  # not UTF-8
        db.execute("UPDATE events SET payload = X'' WHERE position = 11")
    return path


def _both(path: Path, scope: Scope, after: int = 0, through: int | None = None,
          limit: int | None = None) -> tuple[PageRows, PageRows]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with pages.Reader(engine) as adbc, pages.Reader(engine, arrow=False) as cursor:
            return adbc.fetch(scope, after, through, limit), cursor.fetch(scope, after, through, limit)
    finally:
        engine.dispose()


@pytest.mark.parametrize("scope", [Scope(None), Scope(None, "1881"), Scope(None, "1880", upto=200)])
def test_adbc_and_cursor_give_the_same_rows(store_file: Path, scope: Scope) -> None:
    adbc, cursor = _both(store_file, scope)
    assert len(adbc) == len(cursor) > 0
    assert adbc.lines == cursor.lines
    assert list(adbc) == list(cursor)
    assert [adbc[i] for i in range(len(adbc))] == list(cursor)
    assert adbc.payloads() == cursor.payloads() == [row[3] for row in cursor]
    assert adbc.lines == b"".join(p + b"\n" for p in adbc.payloads())
    assert adbc[-1] == cursor[len(cursor) - 1]
    with pytest.raises(IndexError):
        adbc[len(adbc)]


def test_hand_edited_payloads_are_read_byte_for_byte(store_file: Path) -> None:
    adbc, cursor = _both(store_file, Scope(None), 0, 12)
    with sqlite3.connect(store_file) as db:
        stored = dict(db.execute("SELECT position, CAST(payload AS BLOB) FROM events WHERE position <= 12"))
    assert {row[0]: row[3] for row in adbc} == stored
    assert adbc[8][3] == b'{"\xff"\xfe}' and adbc[10][3] == b""
    assert [row[3] for row in cursor] == [stored[p] for p in sorted(stored)]


def test_a_page_crosses_a_pipe_as_columns(store_file: Path) -> None:
    adbc, _ = _both(store_file, Scope(None), limit=50)
    again = pickle.loads(pickle.dumps(adbc, protocol=pickle.HIGHEST_PROTOCOL))
    assert isinstance(again, PageRows) and list(again) == list(adbc) and again.lines == adbc.lines


def test_a_page_is_parsed_once_ahead_and_not_sent_parsed(store_file: Path) -> None:
    """`parsed_ahead` parses each page as it passes (the reading thread's work under `prefetched`);
    the fold then finds the same table, made once; a page whose lines Arrow cannot read gives None;
    a page sent to another process goes without its parse."""
    engine = create_engine(f"sqlite:///{store_file}")
    try:
        with pages.Reader(engine) as reader:
            clean = reader.fetch(Scope(None), 20, 60)
            edited = reader.fetch(Scope(None), 0, 12)  # the payload that does not parse
    finally:
        engine.dispose()
    assert clean._table is False
    (ahead,) = pages.parsed_ahead(iter([clean]))
    table = ahead.table()
    assert table is not None
    assert ahead is clean and table.num_rows == len(clean)
    assert table.column("event_id").to_pylist() == [orjson.loads(p)["event_id"] for p in clean.payloads()]
    assert clean.table() is table  # not parsed again
    assert edited.table() is None and edited._table is None
    again = pickle.loads(pickle.dumps(clean, protocol=pickle.HIGHEST_PROTOCOL))
    assert again._table is False and again.table().equals(table)


def test_limits_bounds_and_an_empty_page(store_file: Path) -> None:
    adbc, cursor = _both(store_file, Scope(None), 20, 40, 7)
    assert adbc.positions.tolist() == cursor.positions.tolist() == list(range(21, 28))
    empty, none = _both(store_file, Scope(None), 10**9)
    assert len(empty) == len(none) == 0 and empty.lines == none.lines == b"" and list(empty) == []


def test_adbc_is_for_a_sqlite_file() -> None:
    with pytest.raises(ValueError, match="ADBC reads a SQLite file"):
        pages.Reader(create_engine("sqlite://"), arrow=True)


def test_an_appended_time_the_store_never_writes_is_named(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store_of(path, history(1, 0.1))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET appended_at = 'not a time' WHERE position = 30")
    store = open_store(f"sqlite:///{path}")
    try:
        with pytest.raises(ValueError, match="position 30"):
            rebuild(store, Scope(None), ALL_PROJECTIONS, digest.EventDigest(listed=False), processes=1)
    finally:
        store.close()
