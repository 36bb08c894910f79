"""The columnar replay (Arrow gather, Python gather, row fallback) equals the decoded fold on SQLite stores.

`tests/integration/test_replay_fast.py` compares the default rebuild with the decoded fold. Here
each way a page can be read is forced and compared the same way (every report, the events and
manifest hashes, counts, municipalities, back-registrations, undecodable events), with small
pages so that placements and investigations span pages and the accumulators merge across them,
and with pages the Arrow gather must refuse (a price in öre, a payload that does not parse).
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson
import pytest

from projections.definitions import ALL_PROJECTIONS, CURRENT, Params, build
from services.audit import arrow_columns, columnar_loop, digest, pages, parallel, vector
from services.audit.columns import last_per_group
from services.audit.replay import Snapshot, rebuild
from services.audit.source import Scope
from services.store import open_store
from tests.integration.test_replay_fast import PERIODS, history, store_of, summary
from tests.unit import builders as b
from tests.unit import event_builders_economy as eb
from tests.unit.test_replay_compact import _day, _investigation, _placement


def rebuilt(url: str, scope: Scope, *, listed: bool = True, decoded: bool = False,
            processes: int = 1) -> Snapshot:
    store = open_store(url)
    try:
        on_item = (lambda item: None) if decoded else None
        return rebuild(store, scope, ALL_PROJECTIONS, digest.EventDigest(listed=listed), on_item=on_item,
                       processes=processes)
    finally:
        store.close()


def random_history(rng: random.Random) -> list[Any]:
    """40 placements, utredningar and aktualiseringar of the compact-mode unit test, shuffled."""
    events: list[Any] = [b.unit_capacity_set("U1", "2021-01-01", 5)]
    for n in range(40):
        events += _placement(rng, f"pl:{n}") + _investigation(rng, n)
        events.append(eb.case_actualised(f"case:{n}", _day(rng)))
    rng.shuffle(events)
    return events


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return store_of(tmp_path_factory.mktemp("columnar") / "store.db", history(7, 0.1))


@pytest.mark.parametrize("way", ["columns", "python"])
@pytest.mark.parametrize("page", [20_000, 333])
def test_each_way_of_reading_pages_equals_the_decoded_fold(store_url: str, way: str, page: int,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", page)
    if way == "python":
        monkeypatch.setattr(vector, "gather", lambda *args: None)
    head = open_store(store_url).head()
    for scope in (Scope(None), Scope(None, "1881", upto=head - 40)):
        fast = rebuilt(store_url, scope)
        assert fast.paths[way] >= 1 and set(fast.paths) == {way}
        assert summary(fast) == summary(rebuilt(store_url, scope, decoded=True))


@pytest.mark.parametrize("listed", [True, False])
def test_reader_processes_give_the_one_process_fold(store_url: str, listed: bool,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Two reader processes, ranges of 450 positions: codes, arrivals and persons mapped across pages."""
    monkeypatch.setattr(parallel, "RANGE", 450)
    head = open_store(store_url).head()
    for scope in (Scope(None), Scope(None, "1880", upto=head - 40)):
        two = rebuilt(store_url, scope, listed=listed, processes=2)
        assert two.paths["columns"] >= 2
        one = rebuilt(store_url, scope, decoded=True)
        if listed:
            assert summary(two) == summary(one)
        else:
            d = two.digest
            reports = [digest.canonical_rows(build(two.state, name, version, period, Params()).rows)
                       for period in PERIODS for name, version in CURRENT.items()]
            assert (reports, d.sha256, d.count, d.first_position, d.last_position, two.state.events,
                    sorted(two.municipalities), two.back_registered) == (
                cast(tuple[Any, ...], summary(one))[0], one.digest.sha256, one.digest.count,
                one.digest.first_position, one.digest.last_position, one.state.events,
                sorted(one.municipalities), one.back_registered)


def test_reader_processes_give_each_event_to_a_per_event_callback(store_url: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """verify's digest (a callback per event) through readers: the same events, ids and hashes, in order."""
    monkeypatch.setattr(parallel, "RANGE", 450)
    scope = Scope(None, "1880")
    seen: dict[int, list[tuple[int, str, str]]] = {1: [], 2: []}
    for processes, out in seen.items():
        store = open_store(store_url)
        try:
            rebuild(store, scope, ALL_PROJECTIONS,
                    digest.EventDigest(on_event=lambda *event, out=out: out.append(event)),
                    processes=processes)
        finally:
            store.close()
    assert len(seen[2]) > 900 and seen[2] == seen[1]


def test_reader_plan_widens_a_municipalitys_ranges_by_its_share(store_url: str, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    shutil.copy(store_url.removeprefix("sqlite:///"), path)
    with sqlite3.connect(path) as db:  # as a store made before the parsed lines (its first row has none)
        db.execute("UPDATE events SET parsed = NULL WHERE position = 1")
    store = open_store(f"sqlite:///{path}")
    try:
        head = store.head()
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT count(*) FROM events WHERE municipality = '1880'").fetchone()[0]
        assert 0 < rows < head  # the history has other municipalities' rows too
        assert parallel.plan(store, Scope(None), None) is None  # small: one process
        assert parallel.plan(store, Scope(None), 1) is None
        assert parallel.plan(store, Scope(None), 2) == parallel.RANGE
        assert parallel.plan(store, Scope(None, "1880"), 2) == parallel.RANGE * (head // rows)
        monkeypatch.setattr(parallel, "LARGE_SHARE", rows)  # as many rows as a large scope has
        assert parallel.plan(store, Scope(None, "1880"), None) == parallel.RANGE * (head // rows)
        assert parallel.plan(store, Scope(None, "1880", upto=head // 2), None) is None  # fewer rows
    finally:
        store.close()
    store = open_store(store_url)  # every row keeps its line: one process unless readers are asked for
    try:
        assert parallel.plan(store, Scope(None, "1880"), None) is None
        monkeypatch.setattr(parallel, "LARGE", 1)
        assert parallel.plan(store, Scope(None), None) is None
        assert parallel.plan(store, Scope(None), 2) == parallel.RANGE
        assert parallel.plan(store, Scope(None, "1880"), 2) == parallel.RANGE * (head // rows)
    finally:
        store.close()


def test_the_events_hash_without_a_manifest_is_the_same(store_url: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 500)
    listed, bare = rebuilt(store_url, Scope(None)), rebuilt(store_url, Scope(None), listed=False)
    assert (bare.digest.sha256, bare.digest.count, bare.digest.first_position, bare.digest.last_position) == (
        listed.digest.sha256, listed.digest.count, listed.digest.first_position, listed.digest.last_position)
    with pytest.raises(ValueError, match="no per-event list"):
        _ = bare.digest.manifest_sha256


def _edit(path: Path, sql: str) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute(sql)


def test_pages_arrow_refuses_take_the_other_ways_and_agree(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "store.db"
    url = store_of(path, history(8, 0.05))
    monkeypatch.setattr(pages, "PAGE", 400)
    # a price in öre on one repricing: a JSON float, which Arrow cannot read as a whole number
    with sqlite3.connect(path) as conn:
        position, body = conn.execute(
            "SELECT position, payload FROM events WHERE type = 'placement.repriced' AND position > 900 "
            "ORDER BY position LIMIT 1").fetchone()
        value = orjson.loads(body)
        value["data"]["price_sek"] = 1234.5
        conn.execute("UPDATE events SET payload = ? WHERE position = ?",
                     (orjson.dumps(value, option=orjson.OPT_SORT_KEYS), position))
    _edit(path, "UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), '\"price_sek\":', "
                "'\"price_old\":1,\"price_sek\":') AS BLOB) WHERE position = 1700")
    _edit(path, "UPDATE events SET payload = CAST('{\"type\": 1' AS BLOB) WHERE position = 300")
    fast = rebuilt(url, Scope(None))
    assert {"columns", "python", "rows"} <= set(fast.paths)
    assert fast.undecodable and summary(fast) == summary(rebuilt(url, Scope(None), decoded=True))


def test_last_per_group_keeps_the_highest_order_of_each_group() -> None:
    code = np.array([3, 1, 3, 1, 2], dtype=np.int64)
    rec = np.array([5, 9, 5, 2, 0], dtype=np.int64)
    pos = np.array([1, 2, 7, 4, 5], dtype=np.int64)
    picked = last_per_group([code], [rec, pos])
    assert sorted(picked.tolist()) == [1, 2, 4]


def test_event_id_halves_match_the_integer_of_the_hex_digits() -> None:
    import pyarrow as pa

    ids = ["0f0e0d0c-0b0a-4908-8706-050403020100", "ffffffff-ffff-4fff-bfff-ffffffffffff",
           "0f0e0d0c0b0a-4908-8706-0504-03020100", "0f0e0d0c-0b0a-4908-8706-05040302010g"]
    hi, lo, good = arrow_columns.halves(pa.array(ids))
    assert good.tolist() == [True, True, False, False]
    for i in (0, 1):
        value: Any = int(ids[i].replace("-", ""), 16)
        assert (int(hi[i]), int(lo[i])) == divmod(value, 2**64)


@pytest.mark.parametrize("radix", [7, 2**21])  # 2**21: three parts could overflow one key: rows compared
def test_unique_rows_equals_numpys_unique_over_rows(radix: int) -> None:
    rng = np.random.default_rng(radix)
    parts = [rng.integers(0, radix, 400) for _ in range(3)]
    parts[1][:200] = parts[1][200:]  # repeated rows
    parts[0][:200], parts[2][:200] = parts[0][200:], parts[2][200:]
    unique, inverse = arrow_columns.unique_rows(parts, [radix] * 3)
    want, want_inverse = np.unique(np.stack(parts, axis=1), axis=0, return_inverse=True)
    assert unique.tolist() == want.tolist()
    assert inverse.reshape(-1).tolist() == want_inverse.reshape(-1).tolist()
    assert len(unique) <= 200


@pytest.mark.parametrize("seed", [0, 3])
def test_random_histories_in_a_store_fold_alike_every_way(tmp_path: Path, seed: int,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The random histories of the compact-mode unit test (same-day repricings, second starts,
    corrections, retractions of every kind, registration out of order), stored, in small pages."""
    rng = random.Random(seed)
    events = random_history(rng)
    events += [b.retracted(e, "2022-06-01") for e in rng.sample(events, len(events) // 6)]
    url = store_of(tmp_path / "store.db", events)
    monkeypatch.setattr(pages, "PAGE", 37)
    monkeypatch.setattr(parallel, "RANGE", 41)
    reference = summary(rebuilt(url, Scope(None), decoded=True))
    columns = rebuilt(url, Scope(None))
    assert columns.paths["columns"] >= 5 and summary(columns) == reference
    monkeypatch.setattr(columnar_loop, "TRIM_EVERY", 1)  # the heap trimmed after every page: the same
    assert summary(rebuilt(url, Scope(None))) == reference
    assert summary(rebuilt(url, Scope(None), processes=2)) == reference
    monkeypatch.setattr(vector, "gather", lambda *args: None)
    assert summary(rebuilt(url, Scope(None))) == reference


def test_free_heap_pages_go_back_to_the_system() -> None:
    """glibc (every machine this runs on) has malloc_trim: holes left between live objects are returned."""
    keep, holes = [], []
    for i in range(400):
        holes.append(bytearray(64 * 1024))  # below the allocator's mmap threshold: on the heap
        keep.append([i] * 64)  # live objects between the holes
    holes.clear()
    assert columnar_loop.release_free_memory()
    assert len(keep) == 400
