"""Replay checkpoints on PostgreSQL: its edit log (a PL/pgSQL function and two triggers,
`services.store.sql.PG_EDIT_BODY`) lets replays there make and take checkpoints, prepared ones too, and a
row changed behind the store's back voids those over it. Every replay is compared with one without the
memo of the same database (`test_replay_checkpoint.agree`: the proof, the manifest's lines, every file).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.audit import checkpoint, pages, parallel
from services.audit import prepare as prepare_module
from services.audit.checkpoint import Checkpoints
from services.store import open_store
from services.store.sql import SqlStore
from tests.integration.test_audit_cli import cli, runner
from tests.integration.test_replay_checkpoint import agree, records
from tests.integration.test_replay_fast import appended, history, store_of

pytestmark = pytest.mark.usefixtures("pg_server")


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 333)
    monkeypatch.setattr(parallel, "RANGE", 333)
    monkeypatch.setattr(checkpoint, "ROW_BYTES", 10**12)  # every checkpoint is worth writing


def sql(url: str, statement: str, **params: object) -> list[tuple[object, ...]]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def test_replays_on_postgresql_make_and_take_checkpoints_and_edits_void_them(pg_fresh_url: str,
                                                                              tmp_path: Path) -> None:
    url = appended(pg_fresh_url, history(5, 0.1))
    memo = tmp_path / "memo"
    assert "checkpoint" not in agree(url, date(2021, 4, 30), tmp_path, memo)
    assert agree(url, date(2021, 4, 30), tmp_path, memo) == Counter({"checkpoint": 1})
    assert agree(url, date(2021, 6, 15), tmp_path, memo)["checkpoint"] == 1
    prefix = min((r for r in records(memo) if not r["exact"]), key=lambda r: r["upto"])
    (at,), = sql(url, "SELECT max(position) FROM events WHERE municipality = '1880' AND position <= :p "
                      "AND type = 'case.actualised'", p=prefix["upto"] // 2)
    sql(url, "UPDATE events SET payload = convert_to(replace(convert_from(payload, 'UTF8'), "
             "'\"channel\":\"report\"', '\"channel\":\"application\"'), 'UTF8') WHERE position = :p", p=at)
    assert sql(url, "SELECT position, kind FROM event_edits") == [(at, "update")]
    assert "checkpoint" not in agree(url, date(2021, 4, 30), tmp_path, memo)  # the edited bytes are read
    assert agree(url, date(2021, 4, 30), tmp_path, memo) == Counter({"checkpoint": 1})  # made after it
    sql(url, "UPDATE events SET position = 1000000000 WHERE position = :p", p=at - 1)
    sql(url, "UPDATE events SET position = :p WHERE position = 1000000000", p=at - 1)
    sql(url, "DELETE FROM events WHERE position = :p", p=at + 1)
    assert sql(url, "SELECT position, kind FROM event_edits WHERE seq > 1 ORDER BY seq") == [
        (at - 1, "update"), (10 ** 9, "update"), (at - 1, "update"), (10 ** 9, "update"), (at + 1, "delete")]
    assert "checkpoint" not in agree(url, date(2021, 4, 30), tmp_path, memo)


def test_prepared_checkpoints_on_postgresql(pg_fresh_url: str, tmp_path: Path) -> None:
    url = appended(pg_fresh_url, history(6, 0.1))
    memo = tmp_path / "memo"
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--municipality", "1880"],
                           env={"CASESTREAM_REPLAY_MEMO_DIR": str(memo)})
    assert result.exit_code == 0, result.output
    assert result.output.startswith("1880: ") and "parsed lines" not in result.output, result.output
    assert agree(url, date(2021, 5, 20), tmp_path, memo)["checkpoint"] == 1
    # months cut at day ends: the same days as in a SQLite store of the same events
    cut = {}
    for name, where in (("postgresql", url), ("sqlite", store_of(tmp_path / "s.db", history(6, 0.1)))):
        store = open_store(where)
        try:
            assert isinstance(store, SqlStore)
            first, last = prepare_module._recorded_range(store, "1880") or (None, None)
            assert first is not None and last is not None
            every = prepare_module.month_ends(first, last)
            cut[name] = prepare_module.cuts(store, "1880", every, every, rows=300)
        finally:
            store.close()
    assert cut["postgresql"] == cut["sqlite"] and len(cut["sqlite"]) > len(every)


def test_an_edit_not_yet_committed_holds_back_a_checkpoints_edit_mark(pg_fresh_url: str,
                                                                      tmp_path: Path) -> None:
    """A sequence's numbers commit out of order: a mark read past an edit that commits later would never
    see it. The mark waits for every transaction that has logged an edit."""
    url = appended(pg_fresh_url, history(7, 0.02))
    store = open_store(url)
    engine = create_engine(url)
    try:
        assert isinstance(store, SqlStore)
        points = Checkpoints(tmp_path / "memo", store)
        assert points.edit_mark() == 0
        marks: list[int] = []
        with engine.connect() as editing:
            editing.execute(text("UPDATE events SET payload = payload WHERE position = 3"))  # not committed
            reader = threading.Thread(target=lambda: marks.append(points.edit_mark()))
            reader.start()
            with engine.connect() as watch:  # until the mark's LOCK waits on the editing transaction
                for _ in range(200):
                    waiting = watch.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                        "AND query LIKE 'LOCK TABLE event_edits%'")).scalar_one()
                    # pg_stat_activity is a snapshot taken once per transaction: end it, or every later
                    # look sees the first (CI stop 24 failed so when the first look came before the LOCK)
                    watch.rollback()
                    if waiting:
                        break
                    time.sleep(0.05)
            assert waiting == 1 and not marks
            editing.commit()
            reader.join(30)
        assert marks == [1]
    finally:
        engine.dispose()
        store.close()


def test_opening_a_store_again_leaves_the_edit_log_as_it_is(pg_fresh_url: str) -> None:
    """The function and triggers are made once (DDL on events blocks its appends): their object ids stay."""
    url = appended(pg_fresh_url, history(8, 0.02))
    query = ("SELECT tgname, oid FROM pg_trigger WHERE tgrelid = 'events'::regclass AND NOT tgisinternal "
             "UNION ALL SELECT proname, oid FROM pg_proc WHERE proname = 'casestream_log_event_edit' "
             "ORDER BY 1")
    before = sql(url, query)
    assert [name for name, _ in before] == ["casestream_log_event_edit", "events_edited", "events_removed"]
    open_store(url).close()
    assert sql(url, query) == before
