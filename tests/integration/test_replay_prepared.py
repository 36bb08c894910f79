"""Prepared checkpoints (`services.audit.prepare`, `casestream prepare-replay`): each municipality's state
at month ends, made ahead, from which a first replay of a scope starts; it publishes exactly what a
replay from the first position publishes.

Every comparison is of everything `casestream replay` writes (the proof but `replayed_at`, the manifest's
lines, every report file's bytes) against a replay without the memo of the same SQLite store, with pages
of 333 rows so that every part spans pages (`test_replay_checkpoint.agree`).
"""

from __future__ import annotations

import gzip
import itertools
import os
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from events.timeutil import STOCKHOLM, end_of_day
from services.audit import pages, parallel
from services.audit.checkpoint import Checkpoints
from services.audit.prepare import ROWS_BETWEEN, Prepared, prepare, report_projections
from services.audit.source import Scope
from services.store import open_store
from services.store.sql import SqlStore
from services.store.tables import events_table as ev
from tests.integration.test_audit_cli import cli, runner
from tests.integration.test_replay_checkpoint import _actualised, _append, _stored, agree
from tests.integration.test_replay_fast import history, store_of
from tests.unit import builders as b

UNTIL = datetime(2021, 7, 20, tzinfo=STOCKHOLM)  # the history: Jan-Jun 2021, late rows on 2 July


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 333)
    monkeypatch.setattr(parallel, "RANGE", 333)


def prepared(url: str, memo: Path, **kw: Any) -> list[Prepared]:
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        return prepare(store, memo, **{"until": UNTIL, **kw})
    finally:
        store.close()


def kept(memo: Path, municipality: str = "1880") -> list[dict[str, Any]]:
    """The municipality's prepared checkpoint records, by known-at."""
    recs = [orjson.loads(p.read_bytes()) for p in memo.glob("checkpoints/*/p-*.json")]
    return sorted((r for r in recs if r["municipality"] == municipality), key=lambda r: r["known_at"])


def month(rec: dict[str, Any]) -> int:
    return datetime.fromisoformat(rec["known_at"]).month


def in_2021(recs: list[dict[str, Any]]) -> list[int]:
    """The months of 2021 (the simulated year; earlier rows are the placements open at its start) whose
    end has a prepared checkpoint."""
    return [month(r) for r in recs if r["known_at"].startswith("2021-")]


def test_a_first_replay_starts_from_the_prepared_month_end_before_it(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    done = prepared(url, memo)
    assert [(r.municipality, r.resumed, r.stopped) for r in done] == [("1880", None, None),
                                                                      ("1881", None, None)]
    assert done[0].last == end_of_day(date(2021, 6, 30))
    recs = kept(memo)
    assert in_2021(recs) == [1, 2, 3, 4, 5, 6] and done[0].made == len(recs) > 6
    # every month end of the history with rows since the one before (not only tertial ends before the
    # latest months: `--months`)
    assert any(month(r) not in (4, 8, 12) for r in recs if r["known_at"] < "2020-06")
    assert {r["known_at"][:7] for r in recs} >= {"2020-09", "2020-10", "2020-11", "2020-12"}
    assert all(r["prepared"] and not r["exact"] and r["projections"] == sorted(report_projections())
               for r in recs)
    assert [r["upto"] for r in recs] == sorted(r["upto"] for r in recs)
    links = {os.stat(p).st_ino for p in memo.glob("checkpoints/*/p-*.manifest")}
    assert len(links) == 2  # one manifest file per municipality, linked from each of its checkpoints
    assert not list(memo.glob("checkpoints/*/.prepare-*"))
    # a replay as known at any day starts from the month end before it, for every report or fewer
    for day, names in ((date(2021, 3, 31), None), (date(2021, 4, 17), None),
                       (date(2021, 6, 30), ["external-purchases"]),
                       (date(2021, 7, 10), ["intake", "occupancy"])):
        read = agree(url, day, tmp_path, memo, reports=names)
        assert read["checkpoint"] == 1, (day, read)
    assert len(kept(memo)) == len(recs)  # replays neither remove nor add prepared ones
    for muni in ("1880", "1881"):  # a replay of the other municipality takes its own
        assert agree(url, date(2021, 5, 20), tmp_path, memo, muni)["checkpoint"] == 1


def test_only_a_month_end_at_or_before_the_known_at_is_taken(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    prepared(url, memo)
    for path in memo.glob("checkpoints/*/p-*.json"):  # keep those from the end of January 2021 on
        if orjson.loads(path.read_bytes())["known_at"] < "2021-01-31":
            Checkpoints.remove(path)
    assert "checkpoint" not in agree(url, date(2021, 1, 30), tmp_path, memo)
    assert agree(url, date(2021, 2, 1), tmp_path, memo)["checkpoint"] == 1


def _recorded(url: str, municipality: str, after: str, upto: str) -> int:
    """The municipality's rows recorded after `after` and by `upto` (ISO times)."""
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        q = select(func.count()).select_from(ev).where(
            ev.c.municipality == municipality, ev.c.recorded_at > datetime.fromisoformat(after),
            ev.c.recorded_at <= datetime.fromisoformat(upto))
        with store.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())
    finally:
        store.close()


def test_a_month_of_many_rows_is_cut_at_day_ends(tmp_path: Path) -> None:
    """Where every month end is kept, a month with more than `rows` rows of the municipality is cut at
    the end of the day its `rows`-th row since the point before was recorded; replays take the cuts."""
    url = store_of(tmp_path / "store.db", history(6, 0.1))
    memo = tmp_path / "memo"
    with pytest.raises(ValueError, match="1 or more, not 0"):
        prepared(url, memo, rows=0)
    prepared(url, memo, rows=300)
    recs = kept(memo)
    cut = [r for r in recs if datetime.fromisoformat(r["known_at"]).day < 28]
    assert len(cut) >= 3 and all(r["known_at"].startswith("2021-") for r in cut)
    assert in_2021([r for r in recs if r not in cut]) == [1, 2, 3, 4, 5, 6]  # the month ends as well
    for before, point in itertools.pairwise(recs):
        since = _recorded(url, "1880", before["known_at"], point["known_at"])
        day_start = (datetime.fromisoformat(point["known_at"]) - timedelta(days=1)).isoformat()
        if point in cut:  # the 300th row since the point before was recorded on its day
            assert since >= 300 and _recorded(url, "1880", before["known_at"], day_start) < 300
        else:  # a month end: fewer than 300 since the last cut, or the month's day of its 300th row
            assert since < 300 or _recorded(url, "1880", before["known_at"], day_start) < 300
    middle = datetime.fromisoformat(cut[1]["known_at"]).date()
    assert agree(url, middle, tmp_path, memo)["checkpoint"] == 1  # equal to the replay without the memo
    assert agree(url, middle + timedelta(days=1), tmp_path, memo)["checkpoint"] == 1
    prepared(url, memo, months=0, rows=300)  # tertial ends only: no month is cut
    assert all(month(r) in (4, 8, 12) and datetime.fromisoformat(r["known_at"]).day >= 30
               for r in kept(memo))


def test_a_run_goes_on_from_its_last_month_end_and_gives_the_same_checkpoints(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(6, 0.1))
    memo, fresh = tmp_path / "memo", tmp_path / "fresh"
    first = prepared(url, memo, until=datetime(2021, 4, 10, tzinfo=STOCKHOLM))
    assert in_2021(kept(memo)) == [1, 2, 3] and first[0].last == end_of_day(date(2021, 3, 31))
    second = prepared(url, memo)
    assert second[0].resumed == end_of_day(date(2021, 3, 31)) and second[0].made == 3
    assert 0 < second[0].events < first[0].events + second[0].events
    assert prepared(url, memo)[0].made == 0  # nothing new: nothing made
    prepared(url, fresh)  # from the first position at once
    # the same month ends, positions, hashes and manifest lines (its gzip members are cut elsewhere: the
    # first run cut at month ends the second no longer keeps)
    fields = ("known_at", "upto", "count", "events_state", "manifest_state", "last_position", "bound")
    assert [[r[f] for f in fields] for r in kept(memo)] == [[r[f] for f in fields] for r in kept(fresh)]
    assert [lines(memo, r) for r in kept(memo)] == [lines(fresh, r) for r in kept(fresh)]
    assert len({os.stat(p).st_ino for p in memo.glob("checkpoints/*/p-*.manifest")}) == 2  # relinked
    for day in (date(2021, 2, 14), date(2021, 5, 15), date(2021, 6, 30)):  # each part of the chain serves
        assert agree(url, day, tmp_path, memo)["checkpoint"] == 1


def lines(memo: Path, rec: dict[str, Any]) -> bytes:
    """The manifest lines a prepared checkpoint keeps (its manifest's first `manifest_size` bytes)."""
    path = next(p for p in memo.glob("checkpoints/*/p-*.json") if orjson.loads(p.read_bytes()) == rec)
    return gzip.decompress(path.with_suffix(".manifest").read_bytes()[:rec["manifest_size"]])


def test_which_month_ends_are_kept(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(7, 0.1))
    memo = tmp_path / "memo"
    prepared(url, memo, months=2)
    assert in_2021(kept(memo)) == [4, 5, 6]  # the tertial end, and the latest two
    assert all(month(r) in (4, 8, 12) for r in kept(memo) if r["known_at"] < "2021-04")
    prepared(url, memo, months=0)
    assert in_2021(kept(memo)) == [4] and all(month(r) in (4, 8, 12) for r in kept(memo))
    # a wider choice later fills the points it adds below the latest one, as a fresh run makes them
    assert prepared(url, memo)[0].made > 0 and in_2021(kept(memo)) == [1, 2, 3, 4, 5, 6]
    prepared(url, tmp_path / "fresh")
    fields = ("known_at", "upto", "count", "events_state", "manifest_state", "last_position", "bound")
    assert [[r[f] for f in fields] for r in kept(memo)] == [[r[f] for f in fields]
                                                            for r in kept(tmp_path / "fresh")]
    assert prepared(url, memo)[0].made == 0  # and then nothing more to make
    read = agree(url, date(2021, 6, 10), tmp_path, memo)  # from 30 April: May's rows and June's
    assert read["checkpoint"] == 1


def test_events_registered_late_are_folded_by_the_replay_that_includes_them(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(8, 0.1))
    memo = tmp_path / "memo"
    prepared(url, memo)
    late = datetime(2021, 3, 20, 10, tzinfo=STOCKHOLM)  # before three prepared month ends, appended after
    _append(url, [_actualised("P-late-1", "2021-03-19", late),
                  b.placement_started("pl-late", "2021-03-02", price=1500, recorded_at=late)
                  .model_copy(update={"municipality": "1880"})], datetime(2021, 8, 1, 12, tzinfo=STOCKHOLM))
    for day in (date(2021, 3, 31), date(2021, 5, 31)):
        assert agree(url, day, tmp_path, memo)["checkpoint"] == 1
    assert prepared(url, memo)[0].made == 0  # the month ends stand: the late rows lie above them


def test_an_edit_or_a_new_retraction_voids_the_month_ends_above_it_and_the_next_run_remakes_them(
        tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(9, 0.1))
    memo = tmp_path / "memo"
    prepared(url, memo)
    before = {r["known_at"]: r["upto"] for r in kept(memo)}
    march, may = (next(r for r in kept(memo) if r["known_at"].startswith(f"2021-0{m}")) for m in (3, 5))
    with sqlite3.connect(path) as conn:  # another channel, below May's position and above March's
        at = conn.execute("SELECT max(position) FROM events WHERE municipality = '1880' AND position <= ? "
                          "AND position > ? AND type = 'case.actualised'", (may["upto"], march["upto"])
                          ).fetchone()[0]
        conn.execute("UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), "
                     "'\"channel\":\"report\"', '\"channel\":\"application\"') AS BLOB) "
                     "WHERE position = ?", (at,))
    assert agree(url, date(2021, 6, 30), tmp_path, memo)["checkpoint"] == 1  # from March's (or April's)
    again = prepared(url, memo)[0]
    assert again.resumed is not None and again.resumed.date() in (date(2021, 3, 31), date(2021, 4, 30))
    assert again.made >= 2
    assert {r["known_at"]: r["upto"] for r in kept(memo)} == before
    assert agree(url, date(2021, 6, 30), tmp_path, memo)["checkpoint"] == 1
    target = next(e for e in (_stored(url, p) for p in range(march["upto"] - 1, 0, -1))
                  if e.type == "case.actualised" and e.municipality == "1880")
    _append(url, [b.retracted(target, "2021-06-29", recorded_at=datetime(2021, 6, 29, 9, tzinfo=STOCKHOLM))
                  .model_copy(update={"municipality": "1880"})], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    agree(url, date(2021, 6, 30), tmp_path, memo)  # from a month end below the target, or none
    rerun = prepared(url, memo)[0]
    assert rerun.resumed is None or rerun.resumed < end_of_day(date(2021, 3, 31))
    assert agree(url, date(2021, 6, 30), tmp_path, memo)["checkpoint"] == 1


def test_an_event_that_does_not_decode_stops_the_run_there_and_names_it(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(10, 0.1))
    with sqlite3.connect(path) as conn:
        at = conn.execute("SELECT min(position) FROM events WHERE municipality = '1881' AND recorded_at > "
                          "'2021-04-15'").fetchone()[0]
        conn.execute("UPDATE events SET payload = CAST('{\"not\": \"an event\"' AS BLOB) WHERE position = ?",
                     (at,))
    memo = tmp_path / "memo"
    done = {r.municipality: r for r in prepared(url, memo)}
    assert done["1880"].stopped is None and in_2021(kept(memo)) == [1, 2, 3, 4, 5, 6]
    assert done["1881"].stopped is not None and f"at position {at} does not decode" in done["1881"].stopped
    months = in_2021(kept(memo, "1881"))  # those before the month of the bad row
    assert months == list(range(1, len(months) + 1)) and 3 <= len(months) <= 4
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--municipality", "1881"],
                           env={"CASESTREAM_REPLAY_MEMO_DIR": str(memo)})
    assert result.exit_code == 1 and "STOPPED: event" in result.output and str(at) in result.output


def test_prepare_replay_on_the_command_line(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(11, 0.05))
    memo = tmp_path / "memo"
    env = {"CASESTREAM_REPLAY_MEMO_DIR": str(memo)}
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--municipality", "1880", "--months", "1"],
                           env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("0 events given their parsed lines")
    assert lines[1].startswith("1880: ") and " checkpoints made from the first event " in lines[1]
    assert lines[-1] == f"checkpoints in {memo}"
    assert {r["municipality"] for r in kept(memo)} == {"1880"} and not kept(memo, "1881")
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--municipality", "18800"], env=env)
    assert result.exit_code != 0 and "is not a kommunkod" in result.output
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--months", "-1"], env=env)
    assert result.exit_code != 0 and "--months" in result.output
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--no-memo"], env=env)
    assert result.exit_code == 0 and "no checkpoints made" in result.output
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--rows", "0"], env=env)
    assert result.exit_code != 0 and "--rows" in result.output
    before = len(kept(memo))  # the month ends (and, where --months 1 keeps none, tertial ends)
    result = runner.invoke(cli(), ["prepare-replay", "--db", url, "--municipality", "1880", "--rows", "100"],
                           env=env)
    assert result.exit_code == 0, result.output
    days = [datetime.fromisoformat(r["known_at"]).day for r in kept(memo)]
    assert len(days) > before and any(day < 28 for day in days)  # cut within months
    helped = runner.invoke(cli(), ["prepare-replay", "--help"], env={**env, "COLUMNS": "200"})
    assert f"default {ROWS_BETWEEN:,}".replace(",", " ") in " ".join(helped.output.split())


def test_a_prepared_checkpoint_of_fewer_projections_than_asked_is_not_taken(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(12, 0.1))
    memo = tmp_path / "memo"
    prepared(url, memo, projections={"care_costs"})
    assert agree(url, date(2021, 6, 30), tmp_path, memo, reports=["lvu-lvm"])["checkpoint"] == 1
    assert "checkpoint" not in agree(url, date(2021, 6, 30), tmp_path, memo, reports=["intake"])


def test_the_municipalitys_rows_are_counted_once_and_then_from_the_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A first replay cuts its ranges by the municipality's share of the rows (`parallel.span_of`):
    prepare-replay leaves the count in the memo's folder, and a count after later appends adds only the
    rows appended since; each equals a count of every row."""
    path = tmp_path / "store.db"
    url = store_of(path, history(13, 0.05))
    memo = tmp_path / "memo"
    prepared(url, memo)

    def rows() -> dict[str, list[int]]:
        with sqlite3.connect(path) as conn:
            head = conn.execute("SELECT max(position) FROM events").fetchone()[0]
            return {m: [head, n] for m, n in conn.execute(
                "SELECT municipality, count(*) FROM events GROUP BY municipality")}

    kept = orjson.loads((memo / "rows.json").read_bytes())
    assert {k.split("/")[1]: v for k, v in kept.items()} == rows()
    _append(url, [_actualised(f"P-after-{i}", "2021-07-10", datetime(2021, 7, 10, tzinfo=STOCKHOLM))
                  for i in range(3)], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    counted: list[int] = []
    real = parallel._rows_of
    monkeypatch.setattr(parallel, "_rows_of",
                        lambda *a, **kw: counted.append(kw.get("after", 0)) or real(*a, **kw))
    monkeypatch.setattr(parallel, "_SPANS", {})
    store = open_store(url)
    try:
        assert isinstance(store, SqlStore)
        head = store.head()
        parallel.span_of(store, Scope(None, "1880"), memo)
    finally:
        store.close()
    assert counted == [head - 3]  # only the rows after the kept head
    kept = orjson.loads((memo / "rows.json").read_bytes())
    assert {k.split("/")[1]: v for k, v in kept.items()}["1880"] == rows()["1880"]
