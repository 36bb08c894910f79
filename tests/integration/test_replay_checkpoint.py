"""Replay checkpoints (`services.audit.checkpoint`): a replay that starts from one publishes exactly what a
replay from the first position publishes, and a checkpoint is never taken when the rows it stands for
changed.

Every comparison is of everything `casestream replay` writes: the proof (all but `replayed_at`), the
manifest's lines and every report file's bytes, against a replay without the memo of the same store,
on real SQLite files, with pages of 333 rows so that every part spans pages.
"""

from __future__ import annotations

import gzip
import io
import logging
import pickle
import shutil
import sqlite3
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine

from events import Event
from events.timeutil import STOCKHOLM, Period, end_of_day
from services.audit import checkpoint, checkpoint_state, pages, parallel
from services.audit.replay import Request, replay
from services.audit.source import sql_store
from services.store import open_store
from services.store.sql import SqlStore
from tests.integration.test_replay_fast import history, store_of
from tests.unit import builders as b

REPORTS = ["external-purchases", "occupancy", "intake", "investigations", "lvu-lvm"]


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 333)
    monkeypatch.setattr(parallel, "RANGE", 333)
    # every checkpoint is worth writing (the rule for when one is not has a test of its own)
    monkeypatch.setattr(checkpoint, "ROW_BYTES", 10**12)


def published(url: str, day: date, out: Path, memo: Path | None, municipality: str | None = "1880",
              reports: list[str] | None = None) -> tuple[Any, Counter[str]]:
    """Everything a replay as known at the end of `day` writes, and how it read its pages."""
    request = Request(reports or REPORTS, Period(date(2021, 1, 1), date(2021, 6, 30)), end_of_day(day),
                      municipality)
    store = open_store(url)
    read: Counter[str] = Counter()
    try:
        replay(store, request, out, memo=memo, pages_read=read)
    finally:
        store.close()
    proof = orjson.loads((out / "proof.json").read_bytes())
    proof.pop("replayed_at")
    files = {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.suffix in (".json", ".csv")
             and p.name != "proof.json"}
    return (proof, gzip.decompress((out / "proof.events.tsv.gz").read_bytes()), files), read


def agree(url: str, day: date, tmp: Path, memo: Path, municipality: str | None = "1880",
          reports: list[str] | None = None) -> Counter[str]:
    """Replay with the memo and without it; both must publish the same; returns the first's pages."""
    n = len(list(tmp.glob("out-*")))
    with_memo, read = published(url, day, tmp / f"out-{n}-memo", memo, municipality, reports)
    plain, _ = published(url, day, tmp / f"out-{n}-plain", None, municipality, reports)
    assert with_memo == plain
    assert with_memo[0]["events"]["count"] > 50
    return read


def records(memo: Path) -> list[dict[str, Any]]:
    return [orjson.loads(p.read_bytes()) for p in sorted(memo.glob("checkpoints/*/*.json"))]




@pytest.mark.parametrize("municipality", ["1880", None])
def test_a_replay_from_a_checkpoint_publishes_what_a_full_replay_does(tmp_path: Path,
                                                                     municipality: str | None) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    late = datetime(2021, 3, 10, 10, tzinfo=STOCKHOLM)  # registered late: appended after all the rest
    _append(url, [_actualised("late-1", "2021-03-10", late)], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    memo = tmp_path / "memo"
    cold = agree(url, date(2021, 4, 30), tmp_path, memo, municipality)
    assert "checkpoint" not in cold and cold["columns"] >= 3
    made = records(memo)
    assert sorted(r["exact"] for r in made) == [False, True]  # the late row lies beyond the prefix
    prefix = next(r for r in made if not r["exact"])
    assert 0 < prefix["upto"] < next(r for r in made if r["exact"])["upto"]

    again = agree(url, date(2021, 4, 30), tmp_path, memo, municipality)  # the exact one: nothing read
    assert again == Counter({"checkpoint": 1})
    later = agree(url, date(2021, 6, 15), tmp_path, memo, municipality)  # the prefix one, then pages
    assert later["checkpoint"] == 1 and later["columns"] >= 1
    earlier = agree(url, date(2021, 3, 31), tmp_path, memo, municipality)  # none may serve it
    assert "checkpoint" not in earlier
    assert len(records(memo)) == checkpoint.KEEP  # the least recently used went


def test_a_prefix_checkpoint_the_replay_read_no_further_than_serves_the_same_known_at(tmp_path: Path) -> None:
    """Every included row lies at or below the prefix end (no late registration after it): one
    checkpoint, not two of the same state, and a replay as known at the same time reads no page."""
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    cold = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in cold
    made = records(memo)
    assert [r["exact"] for r in made] == [False] and made[0]["bound"][1] <= made[0]["upto"]
    assert agree(url, date(2021, 4, 30), tmp_path, memo) == Counter({"checkpoint": 1})
    assert len(records(memo)) == 1


def test_a_checkpoint_is_written_only_where_it_spares_more_than_it_costs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A replay from a checkpoint writes another only where the rows folded since it, at ROW_BYTES
    each, outweigh the state's bytes; one that does not still publishes what a full replay does."""
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    late = datetime(2021, 3, 10, 10, tzinfo=STOCKHOLM)
    _append(url, [_actualised("late-1", "2021-03-10", late)], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    memo = tmp_path / "memo"
    monkeypatch.setattr(checkpoint, "ROW_BYTES", 0)  # no row is worth a byte: only a first one is written
    agree(url, date(2021, 4, 30), tmp_path, memo)
    first = records(memo)
    assert [r["exact"] for r in first] == [False]  # not the exact one beside it: one late row
    later = agree(url, date(2021, 6, 15), tmp_path, memo)
    assert later["checkpoint"] == 1 and later["columns"] >= 1 and records(memo) == first
    assert agree(url, date(2021, 6, 15), tmp_path, memo)["checkpoint"] == 1  # the same one again
    state = records(memo)[0]["state_bytes"]  # pickled: what writing it costs (its file is compressed)
    assert next(memo.glob("checkpoints/*/*.state")).stat().st_size < state
    monkeypatch.setattr(checkpoint, "ROW_BYTES", state)  # one row is worth the state: written
    agree(url, date(2021, 6, 15), tmp_path, memo)
    assert len(records(memo)) == 2


def test_what_a_checkpoint_spares() -> None:
    assert checkpoint.spares(None, 0)  # a replay from the first position: always
    assert checkpoint.spares((100, 5 * checkpoint.ROW_BYTES), 105)
    assert not checkpoint.spares((100, 5 * checkpoint.ROW_BYTES + 1), 105)


def _append(url: str, events: list[Event], now: datetime) -> None:
    store = open_store(url, clock=lambda: now)
    try:
        store.append(events)
    finally:
        store.close()


def _actualised(person: str, day: str, recorded_at: datetime) -> Event:
    data = {"person": person, "channel": "report", "target_group": "children", "sex": "female"}
    return b.envelope("case.actualised", f"case:{person}", day, data, recorded_at=recorded_at).model_copy(
        update={"municipality": "1880"})


def _stored(url: str, position: int) -> Event:
    store = open_store(url)
    try:
        return next(e for e in store.read_all() if e.position == position)
    finally:
        store.close()


def test_events_appended_after_a_checkpoint_are_folded_in(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(6, 0.1))
    memo = tmp_path / "memo"
    first, _ = published(url, date(2021, 4, 30), tmp_path / "first", memo)
    late = datetime(2021, 4, 20, 10, tzinfo=STOCKHOLM)  # registered before the known-at, appended later
    _append(url, [_actualised("P-late-1", "2021-04-19", late),
                  b.placement_started("pl-late", "2021-04-02", price=1500, recorded_at=late)
                  .model_copy(update={"municipality": "1880"}),
                  _actualised("P-new", "2021-05-03", late + timedelta(days=14))],
            datetime(2021, 8, 1, 12, tzinfo=STOCKHOLM))
    read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert read["checkpoint"] == 1
    now = orjson.loads((tmp_path / "out-0-memo" / "proof.json").read_bytes())
    assert now["events"]["count"] == first[0]["events"]["count"] + 2
    assert now["events"]["back_registered"] == first[0]["events"]["back_registered"] + 2


def test_a_new_retraction_of_an_event_a_checkpoint_folded_voids_it(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(7, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    prefix = next(r for r in records(memo) if not r["exact"])
    target = next(e for e in (_stored(url, p) for p in range(prefix["upto"] - 5, 0, -1))
                  if e.type == "case.actualised" and e.municipality == "1880")
    _append(url, [b.retracted(target, "2021-04-29", recorded_at=datetime(2021, 4, 29, 9, tzinfo=STOCKHOLM))
                  .model_copy(update={"municipality": "1880"})], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in read  # both had folded the target for good


def test_a_new_retraction_above_a_prefix_checkpoint_leaves_it_usable(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(8, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    prefix = next(r for r in records(memo) if not r["exact"])
    head = open_store(url).head()
    target = next(e for e in (_stored(url, p) for p in range(head, prefix["upto"], -1))
                  if e.type == "case.actualised" and e.municipality == "1880")
    _append(url, [b.retracted(target, "2021-06-20", recorded_at=datetime(2021, 6, 20, 9, tzinfo=STOCKHOLM))
                  .model_copy(update={"municipality": "1880"})], datetime(2021, 8, 1, tzinfo=STOCKHOLM))
    read = agree(url, date(2021, 6, 30), tmp_path, memo)
    assert read["checkpoint"] == 1


@pytest.mark.parametrize("edit", ["update", "delete"])
def test_rows_edited_behind_the_stores_back_void_the_checkpoints_over_them(tmp_path: Path, edit: str) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(9, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    prefix = next(r for r in records(memo) if not r["exact"])
    with sqlite3.connect(path) as conn:
        at = conn.execute("SELECT max(position) FROM events WHERE municipality = '1880' AND position <= ? "
                          "AND type = 'case.actualised'", (prefix["upto"] // 2,)).fetchone()[0]
        if edit == "update":  # another channel: the figures and the hashes change
            conn.execute("UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), "
                         "'\"channel\":\"report\"', '\"channel\":\"application\"') AS BLOB) "
                         "WHERE position = ?", (at,))
        else:
            conn.execute("DELETE FROM events WHERE position = ?", (at,))
        assert conn.execute("SELECT position, kind FROM event_edits").fetchall() == [(at, edit)]
    read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in read
    read = agree(url, date(2021, 4, 30), tmp_path, memo)  # the replay made new ones, after the edit
    assert read == Counter({"checkpoint": 1})


def test_a_row_edited_above_a_prefix_checkpoint_leaves_it_usable_but_not_its_bound(tmp_path: Path) -> None:
    """The checkpoint keeps where its replay found the scope's last included row; a row above its P
    whose record time was moved before the checkpoint's known-at behind the store's back (now the last
    included one) must
    still be read: the bound goes, the checkpoint stays."""
    path = tmp_path / "store.db"
    url = store_of(path, history(9, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    prefix = next(r for r in records(memo) if not r["exact"])
    assert prefix["bound"] is not None
    later = end_of_day(date(2021, 5, 31)).astimezone(UTC).replace(tzinfo=None)
    with sqlite3.connect(path) as conn:
        at, = conn.execute("SELECT max(position) FROM events WHERE municipality = '1880' AND recorded_at > ?",
                           (later.isoformat(" "),)).fetchone()
        assert at > prefix["upto"]
        earlier = end_of_day(date(2021, 4, 30)).astimezone(UTC).replace(tzinfo=None) - timedelta(hours=1)
        conn.execute("UPDATE events SET recorded_at = ? WHERE position = ?", (earlier.isoformat(" "), at))
    read = agree(url, date(2021, 5, 31), tmp_path, memo)  # with the memo and without: the same
    assert read["checkpoint"] == 1


def test_a_damaged_checkpoint_is_not_taken(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    url = store_of(tmp_path / "store.db", history(10, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    for state in memo.glob("checkpoints/*/*.state"):
        data = bytearray(state.read_bytes())
        data[len(data) // 2] ^= 0xFF
        state.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in read
    assert "does not match its SHA-256" in caplog.text


def test_a_checkpoint_whose_state_does_not_decompress_is_not_taken(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The state file is compressed: a record naming another pickled size (its hashes still matching)
    is a checkpoint that does not read back, logged and not taken; the replay is the same without it."""
    url = store_of(tmp_path / "store.db", history(10, 0.1))
    memo = tmp_path / "memo"
    published(url, date(2021, 4, 30), tmp_path / "first", memo)
    (path,) = memo.glob("checkpoints/*/*.json")
    rec = orjson.loads(path.read_bytes())
    state = path.with_suffix(".state").read_bytes()
    assert checkpoint_state.load_state(checkpoint_state.unpacked(state, rec["state_bytes"])) is not None
    path.write_bytes(orjson.dumps({**rec, "state_bytes": rec["state_bytes"] + 1}))
    with caplog.at_level(logging.WARNING):
        read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in read
    assert "does not read back" in caplog.text and "ZSTD" in caplog.text


def test_a_counter_is_read_back_as_the_counter_it_was() -> None:
    """Counters are pickled as their dicts (`_counter`), read back as Counters with the same items in
    the same order; a `_counter` of anything but a dict is refused."""
    counts = Counter({"a": 2, ("1880", 3): 1, 7: 0})
    buffer = io.BytesIO()
    checkpoint_state._Pickler(buffer, protocol=5).dump([counts, Counter()])
    assert b"_counter" in buffer.getvalue()
    read = checkpoint_state._Unpickler(io.BytesIO(buffer.getvalue())).load()
    assert read == [counts, Counter()] and all(type(c) is Counter for c in read)
    assert list(read[0].items()) == list(counts.items())  # order and zero counts kept
    forged = b"\x80\x05cservices.audit.checkpoint_state\n_counter\n(]tR."  # a list where the dict goes
    with pytest.raises(pickle.UnpicklingError, match="Counter is a list"):
        checkpoint_state._Unpickler(io.BytesIO(forged)).load()


def test_a_state_is_compressed_and_read_back_only_at_its_own_size() -> None:
    data = checkpoint_state.dump_state(_large_state())
    kept = checkpoint_state.packed(data)
    assert len(kept) < len(data) // 2
    assert checkpoint_state.unpacked(kept, len(data)) == data
    for size in (len(data) - 1, len(data) + 1):
        with pytest.raises(OSError, match="ZSTD"):
            checkpoint_state.unpacked(kept, size)
    with pytest.raises(OSError, match="ZSTD"):
        checkpoint_state.unpacked(kept[: len(kept) // 2], len(data))
    with pytest.raises(ValueError, match="-1 bytes"):
        checkpoint_state.unpacked(kept, -1)
    with pytest.raises(ValueError, match=f"a state of {10**12} bytes from a file of {len(kept)}"):
        checkpoint_state.unpacked(kept, 10**12)  # a damaged record's size: refused, not allocated


def test_a_checkpoint_keeps_its_manifest_whatever_becomes_of_the_replays_output(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A checkpoint's manifest is a link to the replay's: a new replay into the same folder writes a new
    file (the checkpoint still serves), removing the output leaves it, and a manifest changed in place
    voids the checkpoints over it."""
    url = store_of(tmp_path / "store.db", history(10, 0.1))
    memo, out = tmp_path / "memo", tmp_path / "out"
    first, _ = published(url, date(2021, 4, 30), out, memo)
    kept = sorted(memo.glob("checkpoints/*/*.manifest"))
    output = (out / "proof.events.tsv.gz").stat()
    assert len(kept) == 1 and {(p.stat().st_ino, p.stat().st_nlink) for p in kept} == {(output.st_ino, 2)}
    again, read = published(url, date(2021, 4, 30), out, memo)  # the same folder: a new file
    assert read == Counter({"checkpoint": 1}) and again == first
    shutil.rmtree(out)
    third, read = published(url, date(2021, 4, 30), tmp_path / "out-3", memo)
    assert read == Counter({"checkpoint": 1}) and third == first
    for manifest in kept:
        with manifest.open("r+b") as f:  # in place: the link's other names see it too
            f.seek(12)
            byte = f.read(1)
            f.seek(12)
            f.write(bytes([byte[0] ^ 0xFF]))
    with caplog.at_level(logging.WARNING):
        read = agree(url, date(2021, 4, 30), tmp_path, memo)
    assert "checkpoint" not in read
    assert "does not match its SHA-256" in caplog.text


def test_a_checkpoint_copies_its_manifest_where_it_cannot_link_it(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def elsewhere(src: object, dst: object) -> None:
        raise OSError(18, "Invalid cross-device link")  # EXDEV: the memo on another file system

    monkeypatch.setattr(checkpoint.os, "link", elsewhere)
    url = store_of(tmp_path / "store.db", history(10, 0.1))
    memo = tmp_path / "memo"
    first, _ = published(url, date(2021, 4, 30), tmp_path / "out", memo)
    kept = sorted(memo.glob("checkpoints/*/*.manifest"))
    assert len(kept) == 1 and kept[0].stat().st_nlink == 1
    assert kept[0].stat().st_size == records(memo)[0]["manifest_size"]  # the lines up to its P only
    again, read = published(url, date(2021, 4, 30), tmp_path / "again", memo)
    assert read == Counter({"checkpoint": 1}) and again == first


def test_a_checkpoint_of_another_store_is_never_taken(tmp_path: Path) -> None:
    """The same events in two store files (appended at other times, so other back-registrations), and
    a store file made anew under the same name: each has an id of its own."""
    memo = tmp_path / "memo"
    events = history(12, 0.1)
    one = store_of(tmp_path / "one.db", events)
    published(one, date(2021, 4, 30), tmp_path / "first", memo)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    _append(other, events, datetime(2021, 9, 1, tzinfo=STOCKHOLM))
    assert "checkpoint" not in agree(other, date(2021, 4, 30), tmp_path, memo)
    (tmp_path / "one.db").unlink()
    again = store_of(tmp_path / "one.db", events)
    assert "checkpoint" not in agree(again, date(2021, 4, 30), tmp_path, memo)


class _Sneaky:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("a checkpoint ran code",))


def test_a_checkpoint_state_builds_only_the_projections_values() -> None:
    with pytest.raises(pickle.UnpicklingError, match=r"may not name builtins\.print"):
        checkpoint_state.load_state(pickle.dumps(_Sneaky()))
    with pytest.raises(pickle.UnpicklingError, match=r"may not name .*_Sneaky"):
        checkpoint_state.load_state(pickle.dumps(_Sneaky, protocol=5))
    with pytest.raises(pickle.UnpicklingError, match=r"not a bundle\.State"):
        checkpoint_state.load_state(pickle.dumps({"a": 1}))
    escape = (b"\x80\x05cbuiltins\ngetattr\n(cprojections.bundle\nState\nV__init__\ntR.")
    with pytest.raises(pickle.UnpicklingError, match="may not take '__init__'"):
        checkpoint_state.load_state(escape)  # getattr is only an enum's member or a time zone's unpickler


def _large_state() -> Any:
    """A compact state with a placement index of some size."""
    from projections import bundle
    from projections.placement_compact import Columns

    state = bundle.compact(frozenset())
    compact = state.care_costs.compact
    assert isinstance(compact, Columns)
    for i in range(1029):
        compact._row(f"pl:1880:{i}-å")
    return state


def test_an_id_index_is_pickled_packed_and_read_back_as_it_was() -> None:
    state = _large_state()
    compact = state.care_costs.compact
    model = dict(compact.index.numbered())
    data = checkpoint_state.dump_state(state)
    assert compact.index.packed_count() == len(model) and not compact.index.tail  # packed on pickling
    assert "pl:1880:7-å".encode() in data  # its ids as bytes, not one string each
    back = checkpoint_state.load_state(data).care_costs.compact
    assert back.index == model and back.index.packed_count() == len(model)
    assert pickle.dumps(back, protocol=5) == pickle.dumps(compact, protocol=5)
    compact._row("pl:1880:new")  # folded on: a tail beside the packed ids, packed into them when pickled
    model["pl:1880:new"] = len(model)
    again = checkpoint_state.load_state(checkpoint_state.dump_state(state)).care_costs.compact.index
    assert again == model and again.packed_count() == len(model)
    compact.index.add("odd\x00id")  # a zero byte in an id: the index is pickled as its dict
    plain = checkpoint_state.load_state(checkpoint_state.dump_state(state)).care_costs.compact.index
    assert plain == {**model, "odd\x00id": len(model)} and plain.tail
    forged = (b"\x80\x05cservices.audit.checkpoint_state\n_rebuilt\n(cpathlib\nPath\n}Va\ntR.")
    with pytest.raises(pickle.UnpicklingError, match=r"not name services\.audit\.checkpoint_state\._rebuilt"):
        checkpoint_state.load_state(forged)  # no helper beside the listed ones


def test_only_sqlite_files_make_checkpoints(tmp_path: Path) -> None:
    assert not checkpoint.Checkpoints.usable(sql_store(open_store("memory://")))
    assert not checkpoint.Checkpoints.usable(SqlStore(create_engine("sqlite://")))  # no file, no edit log
    url = store_of(tmp_path / "store.db", history(11, 0.05))
    store = open_store(url)
    try:
        assert checkpoint.Checkpoints.usable(sql_store(store))
    finally:
        store.close()
