"""The page memo (`services.audit.page_memo`): a replay that takes its pages from the memo equals the
decoded fold, and the memo never gives a page whose rows changed.

Every comparison is of the whole `summary` (every report over two periods, the events and manifest
hashes, counts, positions, municipalities, back-registrations, undecodable events) against the
decoded fold of the same store, on real SQLite files: a cold replay that fills the memo, a warm one
that takes every page from it, with reader processes, after rows are edited behind the store's back,
with retractions, and with a memo file damaged on disk.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from projections.definitions import ALL_PROJECTIONS
from services.audit import digest, page_memo, pages, parallel
from services.audit.replay import Snapshot, rebuild
from services.audit.source import Scope
from services.store import open_store
from tests.integration.test_replay_columnar import random_history, rebuilt
from tests.integration.test_replay_fast import history, store_of, summary
from tests.unit import builders as b


def memoised(url: str, scope: Scope, memo: Path, *, processes: int = 1) -> Snapshot:
    store = open_store(url)
    try:
        return rebuild(store, scope, ALL_PROJECTIONS, digest.EventDigest(), processes=processes, memo=memo)
    finally:
        store.close()


def _entries(memo: Path) -> list[Path]:
    return sorted(memo.glob("*/*.page"))


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 333)  # placements and utredningar span pages
    monkeypatch.setattr(parallel, "RANGE", 333)  # the memo's pages, in one process and in readers


@pytest.mark.usefixtures("small_pages")
def test_a_warm_memo_gives_the_decoded_fold(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    head = open_store(url).head()
    for scope in (Scope(None), Scope(None, "1881", upto=head - 40)):
        reference = summary(rebuilt(url, scope, decoded=True))
        cold = memoised(url, scope, memo)
        filled = len(_entries(memo))
        warm = memoised(url, scope, memo)  # the history has retractions: pages with targets are kept too
        assert cold.paths["columns"] >= 3 and "memo" not in cold.paths
        assert warm.paths["memo"] == cold.paths["columns"] and warm.paths["columns"] == 0
        assert len(_entries(memo)) == filled > 0
        assert summary(cold) == summary(warm) == reference


@pytest.mark.usefixtures("small_pages")
def test_the_memo_loop_reads_each_range_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first range, read to see whether the memo holds it, is folded as read, not read again."""
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    read: list[tuple[int, int | None]] = []
    fetch = pages.Reader.fetch

    def counted(self: pages.Reader, scope: Scope, after: int, through: int | None,
                limit: int | None = None) -> object:
        read.append((after, through))
        return fetch(self, scope, after, through, limit)

    monkeypatch.setattr(pages.Reader, "fetch", counted)
    for scope in (Scope(None, "1881"), Scope(None, "1881")):  # cold (the memo filled), then warm
        read.clear()
        snap = memoised(url, scope, memo)
        assert snap.paths["columns"] + snap.paths["memo"] >= 3
        assert len(read) == len(set(read)) == snap.paths["columns"] + snap.paths["memo"]
    assert summary(snap) == summary(rebuilt(url, Scope(None, "1881"), decoded=True))


@pytest.mark.usefixtures("small_pages")
def test_reader_processes_fill_and_take_the_memo(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(6, 0.1))
    memo = tmp_path / "memo"
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    cold = memoised(url, Scope(None), memo, processes=2)
    warm = memoised(url, Scope(None), memo, processes=2)
    assert cold.paths["columns"] >= 3 and warm.paths["memo"] == cold.paths["columns"]
    assert summary(cold) == summary(warm) == reference
    # pages kept by readers are the one process's pages: a one-process replay takes them as they are
    one = memoised(url, Scope(None), memo)
    assert one.paths["columns"] == 0 and summary(one) == reference


@pytest.mark.usefixtures("small_pages")
def test_rows_edited_after_the_memo_was_filled_are_read_again(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(7, 0.1))
    memo = tmp_path / "memo"
    memoised(url, Scope(None), memo)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), '\"sex\":', '\"sexx\":') "
                   "AS BLOB) WHERE position = 40")  # a payload: an unknown key, decoded and named
        db.execute("UPDATE events SET appended_at = '2030-01-01 00:00:00.000000' WHERE position = 800")
        db.execute("UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), '\"1880\"', '\"1881\"') "
                   "AS BLOB) WHERE position = 1500")  # another municipality in the payload than the row's
    after = memoised(url, Scope(None), memo)
    assert after.paths["columns"] == 3  # the three pages whose rows changed, and only those
    assert summary(after) == summary(rebuilt(url, Scope(None), decoded=True))
    assert summary(memoised(url, Scope(None, "1880"), memo)) == summary(
        rebuilt(url, Scope(None, "1880"), decoded=True))


def test_a_new_retraction_makes_its_targets_page_a_new_entry(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(2)
    events = random_history(rng)
    url = store_of(tmp_path / "store.db", events)
    monkeypatch.setattr(parallel, "RANGE", 37)  # the memo's pages are ranges of positions
    memo = tmp_path / "memo"
    cold = memoised(url, Scope(None), memo)
    store = open_store(url)
    try:  # retractions of every kind of fact, each in a page of its own
        by_page = {e.event_id: i // 37 for i, e in enumerate(events)}
        targets = rng.sample([e for e in events if e.type != "unit.capacity_set"], 12)
        store.append([b.retracted(e, "2022-06-01") for e in targets])
    finally:
        store.close()
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    again = memoised(url, Scope(None), memo)
    n, size = len(events), 37
    # the targets' pages, and those the retractions fill (the last one of before, partly full, and on)
    filled = range(n // size, (n + len(targets) - 1) // size + 1)
    touched = {by_page[e.event_id] for e in targets} | set(filled)
    total = (n + len(targets) + size - 1) // size
    assert cold.paths["columns"] == (n + size - 1) // size
    assert again.paths["columns"] == len(touched) and again.paths["memo"] == total - len(touched)
    warm = memoised(url, Scope(None), memo)
    assert warm.paths["columns"] == 0
    assert summary(again) == summary(warm) == reference
    # the pages as they were before the retractions are still kept, for a replay up to then
    before = Scope(None, upto=len(events))
    assert memoised(url, before, memo).paths["columns"] == 0
    assert summary(memoised(url, before, memo)) == summary(rebuilt(url, before, decoded=True))


def test_a_row_whose_stored_id_is_not_its_payloads_is_not_kept(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(8, 0.05))
    monkeypatch.setattr(parallel, "RANGE", 200)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE events SET event_id = ? WHERE position = 250", (uuid4().hex,))
    memo = tmp_path / "memo"
    cold = memoised(url, Scope(None), memo)
    warm = memoised(url, Scope(None), memo)
    assert len(_entries(memo)) == cold.paths["columns"] - 1  # not the page of position 250
    assert warm.paths["columns"] == 1
    assert summary(warm) == summary(cold) == summary(rebuilt(url, Scope(None), decoded=True))


def test_a_damaged_memo_file_is_a_miss_and_is_written_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    url = store_of(tmp_path / "store.db", history(9, 0.05))
    monkeypatch.setattr(parallel, "RANGE", 300)
    memo = tmp_path / "memo"
    reference = summary(memoised(url, Scope(None), memo))
    entries = _entries(memo)
    damaged, cut = entries[0], entries[1]
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit
    damaged.write_bytes(bytes(data))
    cut.write_bytes(cut.read_bytes()[:100])
    again = memoised(url, Scope(None), memo)
    assert again.paths["columns"] == 2 and summary(again) == reference
    assert "does not read back" in caplog.text
    assert memoised(url, Scope(None), memo).paths["columns"] == 0  # both written again


def test_memo_files_refuse_what_they_were_not(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a page memo file"):
        page_memo._unpack(b"PK\x03\x04 a zip file")
    packed = page_memo._pack({"a": page_memo._small([1, 2, 3], False)}, {"x": 1})
    arrays, meta = page_memo._unpack(packed)
    assert arrays["a"].tolist() == [1, 2, 3] and meta == {"x": 1}
    forged = packed.replace(b'"<i4"', b'"|O8"')  # an object column (a pickle) is never read
    with pytest.raises(ValueError):
        page_memo._unpack(forged)


def test_entries_of_other_code_are_removed(tmp_path: Path) -> None:
    old = tmp_path / ("0" * 32)
    old.mkdir()
    (old / "x.page").write_bytes(b"old")
    keep = tmp_path / "notes"  # not a code folder: left alone
    keep.mkdir()
    memo = page_memo.Memo(tmp_path, None, ALL_PROJECTIONS, [])
    assert not old.exists() and keep.exists() and memo.folder.exists()
    assert memo.folder.name == page_memo.code_fingerprint()[:32]


def test_the_key_covers_every_column_of_the_rows(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(3, 0.05))
    memo = page_memo.Memo(tmp_path / "memo", None, ALL_PROJECTIONS, [])
    other = page_memo.Memo(tmp_path / "memo", "1880", ALL_PROJECTIONS, [])
    store = open_store(url)
    try:
        with pages.Reader(store._engine) as reader:
            rows = reader.fetch(Scope(None), 0, 50)
    finally:
        store.close()
    key = memo.key(rows)
    assert key is not None and key != other.key(rows)
    changed = [
        type(rows)(rows.positions + 1, rows.ids, rows.appended, rows.lines, rows.ends),
        type(rows)(rows.positions, rows.appended, rows.appended, rows.lines, rows.ends),
        type(rows)(rows.positions, rows.ids, rows.ids, rows.lines, rows.ends),
        type(rows)(rows.positions, rows.ids, rows.appended, rows.lines[:-2] + b"x\n", rows.ends),
    ]
    assert all(memo.key(c) not in (None, key) for c in changed)
    first, second = UUID(rows[0][1]), UUID(rows[1][1])
    keys = {page_memo.Memo(tmp_path / "memo", None, ALL_PROJECTIONS, t).key(rows)
            for t in ([first], [second], [first, second], [uuid4()])}
    assert len(keys) == 4 and key in keys  # which rows are targets is in the key; a target elsewhere not


def test_the_manifest_comes_from_kept_digests_once_a_manifest_needed_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store_of(tmp_path / "store.db", history(10, 0.05))
    monkeypatch.setattr(parallel, "RANGE", 300)
    memo = tmp_path / "memo"
    scope = Scope(None, "1880")

    def with_manifest(name: str) -> Snapshot:
        store = open_store(url)
        try:
            with digest.EventDigest(tmp_path / f"{name}.tsv.gz") as d:
                return rebuild(store, scope, ALL_PROJECTIONS, d, processes=1, memo=memo)
        finally:
            store.close()

    store = open_store(url)
    try:  # filled without a manifest: no digests kept
        rebuild(store, scope, ALL_PROJECTIONS, digest.EventDigest(listed=False), processes=1, memo=memo)
    finally:
        store.close()
    sizes = {p: p.stat().st_size for p in _entries(memo)}
    first = with_manifest("first")  # taken, then written again with the digests
    grown = {p: p.stat().st_size for p in _entries(memo)}
    assert grown.keys() == sizes.keys() and all(grown[p] >= sizes[p] + 32 for p in sizes)
    stamps = {p: p.stat().st_mtime_ns for p in _entries(memo)}
    second = with_manifest("second")  # the digests taken from the memo: nothing written
    assert {p: p.stat().st_mtime_ns for p in _entries(memo)} == stamps
    reference = summary(rebuilt(url, scope, decoded=True))
    assert summary(first) == summary(second) == reference
    assert (tmp_path / "first.tsv.gz").read_bytes() == (tmp_path / "second.tsv.gz").read_bytes()


def test_with_a_warm_memo_readers_only_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store_of(tmp_path / "store.db", history(3, 0.05))
    with sqlite3.connect(tmp_path / "store.db") as db:  # as a store made before the parsed lines
        db.execute("UPDATE events SET parsed = NULL WHERE position = 1")
    monkeypatch.setattr(parallel, "LARGE", 1)  # every scope counts as large
    monkeypatch.setattr(parallel, "LARGE_SHARE", 1)
    store = open_store(url)
    try:
        for scope in (Scope(None), Scope(None, "1880")):
            assert parallel.plan(store, scope, None) is not None
            assert parallel.plan(store, scope, None, warm=True) is None
            assert parallel.plan(store, scope, 2, warm=True) is not None
    finally:
        store.close()


def test_a_memo_that_cannot_be_made_or_written_leaves_the_replay_as_it_is(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    url = store_of(tmp_path / "store.db", history(11, 0.05))
    monkeypatch.setattr(parallel, "RANGE", 300)
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    blocked = tmp_path / "a-file"
    blocked.write_bytes(b"not a folder")
    assert summary(memoised(url, Scope(None), blocked)) == reference
    assert summary(memoised(url, Scope(None), blocked, processes=2)) == reference  # readers too
    assert "cannot use" in caplog.text and blocked.read_bytes() == b"not a folder"

    def full_disk(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    memo = tmp_path / "memo"
    monkeypatch.setattr(page_memo.tempfile, "mkstemp", full_disk)
    caplog.clear()
    assert summary(memoised(url, Scope(None), memo)) == reference
    assert caplog.text.count("cannot write") == 1 and not _entries(memo)  # said once, nothing half-written


def test_a_municipalitys_span_is_counted_once_per_head_and_kept_in_the_memo(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    store = open_store(url)
    try:
        scope, memo = Scope(None, "1880"), tmp_path / "memo"
        counted = parallel.span_of(store, scope, memo)  # type: ignore[arg-type]
        rows = parallel._rows_of(store, "1880", store.head())  # type: ignore[arg-type]
        assert counted == parallel._span(store.head(), rows)
        parallel._SPANS.clear()  # as in a new process

        def uncounted(*args: object) -> int:
            raise AssertionError("counted again")

        rows_of = parallel._rows_of
        monkeypatch.setattr(parallel, "_rows_of", uncounted)
        assert parallel.span_of(store, scope, memo) == counted  # type: ignore[arg-type]
        parallel._SPANS.clear()
        (memo / "spans.json").write_bytes(b"{not json")  # unreadable: counted anew
        monkeypatch.setattr(parallel, "_rows_of", rows_of)
        assert parallel.span_of(store, scope, memo) == counted  # type: ignore[arg-type]
        assert (memo / "spans.json").read_bytes().startswith(b"{\"")
    finally:
        parallel._SPANS.clear()
        store.close()
