"""The parsed lines a SQLite store keeps beside its payloads (`services.store.parsed`), in replays.

A replay takes a page's lines instead of parsing its payloads only where every row has one and the
edit log names none of them; whichever it takes, it folds the same (every report, both hashes, the
counts: `summary`, against the decoded fold). A store made before the column gets it, empty, and
`fill_parsed` fills it without logging an edit. verify never reads the lines: a line forged with the
triggers dropped makes the published figure differ from verify's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.definitions import ALL_PROJECTIONS
from services.audit import page_rows, pages
from services.audit.digest import EventDigest
from services.audit.replay import rebuild
from services.audit.source import Scope
from services.store import open_store, parsed
from services.store.sql import EDIT_TRIGGERS
from services.store.tables import EDITS_BOTH
from tests.integration.test_audit_cli import PERIOD, cli, runner, verify
from tests.integration.test_replay_columnar import rebuilt
from tests.integration.test_replay_fast import history, store_of, summary
from tests.unit.test_store_parsed import _schema_part

PAGE = 300


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The pages whose table came from their lines (the real `decode`, counted), with pages of PAGE rows."""
    monkeypatch.setattr(pages, "PAGE", PAGE)
    taken: list[int] = []

    def decode(lines: bytes, n: int) -> Any:
        table = parsed.decode(lines, n)
        if table is not None:
            taken.append(n)
        return table

    monkeypatch.setattr(page_rows, "decode", decode)
    yield taken


def _rows(path: Path, sql: str, *args: Any) -> list[Any]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, args).fetchall()


def _pages(url: str) -> int:
    head = open_store(url).head()
    return (head + PAGE - 1) // PAGE


def test_each_appended_row_keeps_the_line_of_its_payloads_parse(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store_of(path, history(4, 0.05))
    rows = _rows(path, "SELECT payload, parsed FROM events ORDER BY position")
    assert len(rows) > 1000 and all(line is not None for _, line in rows)
    for payload, line in rows[::37]:
        table = parsed.decode(line + b"\n", 1)
        assert table is not None
        assert table.select(parsed.SCHEMA.names).equals(_schema_part(parsed.parse(payload + b"\n", 1)))
    assert _rows(path, "SELECT count(*) FROM event_edits") == [(0,)]


def test_a_replay_takes_the_lines_and_folds_what_the_payloads_give(tmp_path: Path,
                                                                   counted: list[int]) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.05))
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    assert not counted
    assert summary(rebuilt(url, Scope(None))) == reference
    assert len(counted) == _pages(url)  # every page from its lines
    counted.clear()
    store = open_store(url)
    try:
        alone = rebuild(store, Scope(None), ALL_PROJECTIONS, EventDigest(listed=True), lines=False)
    finally:
        store.close()
    assert not counted and summary(alone) == reference  # `lines=False` (verify's): every page parsed
    two = rebuilt(url, Scope(None), processes=2)  # reader processes read the lines too
    assert summary(two) == reference


def test_a_row_edited_behind_the_stores_back_has_its_page_parsed_from_the_payloads(
        tmp_path: Path, counted: list[int]) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(6, 0.05))
    (position, payload), = _rows(path, "SELECT position, payload FROM events WHERE "
                                 "type = 'placement.started' AND position > 400 ORDER BY position LIMIT 1")
    value = orjson.loads(payload)
    value["data"]["price_sek"] += 111  # the payload changed, its line not
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE events SET payload = ? WHERE position = ?",
                     (orjson.dumps(value, option=orjson.OPT_SORT_KEYS), position))
    (line_at, line), = _rows(path, "SELECT position, parsed FROM events WHERE type = 'placement.repriced' "
                             f"AND position > {position + PAGE} ORDER BY position LIMIT 1")
    forged = line.replace(b'"day"', b'"month"', 1)
    assert forged != line
    with sqlite3.connect(path) as conn:  # the line changed, its payload not
        conn.execute("UPDATE events SET parsed = ? WHERE position = ?", (forged, line_at))
    assert sorted(p for p, in _rows(path, "SELECT position FROM event_edits")) == [position, line_at]
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    assert summary(rebuilt(url, Scope(None))) == reference
    assert len(counted) == _pages(url) - 2  # the two edited rows' pages parsed from their payloads


def _as_before_the_column(path: Path) -> None:
    """Make a store file as the store made it before the `parsed` column and the new triggers."""
    with sqlite3.connect(path) as conn:
        for name in EDIT_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute("ALTER TABLE events DROP COLUMN parsed")
        conn.execute("DELETE FROM store_meta WHERE key = ?", (EDITS_BOTH,))
        conn.execute("CREATE TRIGGER events_edited AFTER UPDATE ON events BEGIN INSERT INTO event_edits "
                     "(position, kind) VALUES (min(OLD.position, NEW.position), 'update'); END")
        conn.execute("CREATE TRIGGER events_removed AFTER DELETE ON events BEGIN "
                     "INSERT INTO event_edits (position, kind) VALUES (OLD.position, 'delete'); END")
        conn.execute("UPDATE events SET stream_version = stream_version WHERE position = 700")  # an old edit


def test_a_store_made_before_the_column_gets_it_and_fill_parsed_fills_it(tmp_path: Path,
                                                                       counted: list[int]) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(7, 0.05))
    _as_before_the_column(path)
    reference = summary(rebuilt(url, Scope(None), decoded=True))  # opening it adds the column
    assert _rows(path, "SELECT count(parsed) FROM events") == [(0,)]
    assert _rows(path, "SELECT value FROM store_meta WHERE key = ?", EDITS_BOTH) == [("1",)]
    assert summary(rebuilt(url, Scope(None))) == reference and not counted
    store = open_store(url)
    try:
        head = store.head()
        with sqlite3.connect(path) as conn:  # a store with a few lines already (appended after the column)
            conn.execute("UPDATE events SET parsed = ? WHERE position = 3", (parsed.encode([
                conn.execute("SELECT payload FROM events WHERE position = 3").fetchone()[0]])[0],))
        assert store.fill_parsed(batch=250) == head - 1
        assert store.fill_parsed() == 0
    finally:
        store.close()
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--no-memo"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 events given their parsed lines"), result.output
    assert _rows(path, "SELECT count(*) FROM event_edits") == [(1,)]  # filling is not an edit
    assert summary(rebuilt(url, Scope(None))) == reference
    assert len(counted) == 699 // PAGE  # the old entry logged one position: the pages from it on parsed
    with sqlite3.connect(path) as conn:  # an UPDATE now logs both positions; filling a NULL line none
        conn.execute("UPDATE events SET position = 1000000000 WHERE position = 5")
        conn.execute("UPDATE events SET position = 5 WHERE position = 1000000000")
        conn.execute("UPDATE events SET parsed = NULL WHERE position = 6")  # logged: a line was there
        conn.execute("UPDATE events SET parsed = ? WHERE position = 6", (b"x",))
    assert _rows(path, "SELECT position FROM event_edits WHERE seq > 1 ORDER BY seq") == [
        (5,), (10 ** 9,), (5,), (10 ** 9,), (6,)]


def test_prepare_replay_fills_a_store_made_before_the_column(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(9, 0.02))
    _as_before_the_column(path)
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--no-memo"])
    head = _rows(path, "SELECT max(position) FROM events")[0][0]
    assert result.exit_code == 0 and result.output.startswith(f"{head} events given their parsed lines"), \
        result.output
    assert _rows(path, "SELECT count(parsed) FROM events") == [(head,)]
    result = runner.invoke(cli(), ["prepare-replay", "--db", f"sqlite:///{tmp_path / 'none.db'}"])
    assert result.exit_code != 0 and "no store at" in result.output, result.output


def test_a_line_forged_with_the_triggers_dropped_is_caught_by_verify(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(8, 0.05))

    def replay(out: Path) -> Path:  # no page memo and no checkpoint: the pages are read from the store
        args = ["replay", *PERIOD, "--known-at", "2021-04-05", "--out", str(out), "--db", url, "--no-memo"]
        result = runner.invoke(cli(), args)
        assert result.exit_code == 0, result.output
        return out / "proof.json"

    def figures(out: Path) -> list[bytes]:
        return [p.read_bytes() for p in sorted(out.glob("*.json")) if p.name != "proof.json"]

    out = tmp_path / "honest"
    code, said = verify(url, replay(out))
    assert code == 0 and said.startswith("identical"), said
    with sqlite3.connect(path) as conn:
        for name in EDIT_TRIGGERS:
            conn.execute(f"DROP TRIGGER {name}")
        position, line, day = conn.execute(
            "SELECT position, parsed, occurred_at FROM events WHERE type = 'placement.started' "
            "AND occurred_at BETWEEN '2021-02-01' AND '2021-02-28' ORDER BY position LIMIT 1").fetchone()
        forged = line.replace(f'"{day}"'.encode(), b'"2021-01-02"', 1)  # a placement a month longer
        assert forged != line
        conn.execute("UPDATE events SET parsed = ? WHERE position = ?", (forged, position))
    forged_proof = replay(tmp_path / "forged")
    assert orjson.loads(forged_proof.read_bytes())["events"] == orjson.loads(
        (out / "proof.json").read_bytes())["events"]  # the same stored bytes: the same events hash
    assert figures(tmp_path / "forged") != figures(out)  # but a figure of the forged line
    code, said = verify(url, forged_proof)
    assert code != 0 and "differ" in said, said
