"""Replay's fast loop over a real SQLite store (raw fold + trusted decode) equals the decoded fold.

The decoded path is the replay loop with an `on_item` callback (every event decoded and applied);
the fast path is the same rebuild without it. Both fold in compact mode, which a unit test proves
equal to `bundle.fold` (tests/unit/test_replay_compact.py). Compared on simulated histories of
several seeds and sizes, with retractions and corrections added, for a full rebuild and as-of
municipality replays: every report (canonical rows), the events hash, the manifest hash, the
count, the municipalities, the back-registered count and the undecodable events.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from events import Event, decode_dict
from events.timeutil import STOCKHOLM, Period, end_of_day
from projections.definitions import ALL_PROJECTIONS, CURRENT, Params, build
from services.audit import digest
from services.audit.replay import Snapshot, rebuild
from services.audit.source import Scope
from services.simulator.history import Simulation, SimulationConfig
from services.store import open_store
from tests.unit import builders as b

PERIODS = [Period.year(2021), Period(date(2021, 2, 1), date(2021, 4, 30))]


def history(seed: int, scale: float) -> list[Event]:
    config = SimulationConfig(start_year=2021, years=1, scale=scale, municipalities=("1880", "1881"),
                              until=datetime(2021, 7, 1, tzinfo=STOCKHOLM))
    events = [decode_dict(raw) for raw in Simulation(config, random.Random(seed)).events()]
    rng = random.Random(seed)
    placements = [e for e in events if e.type == "placement.started"]
    late = datetime(2021, 7, 2, 9, tzinfo=STOCKHOLM)
    for e in rng.sample(placements, min(10, len(placements))):
        pid = e.data.placement_id  # type: ignore[attr-defined]
        events.append(b.placement_corrected(pid, "2021-06-30", end="2021-06-15", recorded_at=late)
                      .model_copy(update={"municipality": e.municipality}))
    cases = [e for e in events if e.type in ("case.actualised", "investigation.opened", "placement.repriced")]
    for e in rng.sample(cases, min(15, len(cases))):
        events.append(b.retracted(e, "2021-06-30", recorded_at=late).model_copy(
            update={"municipality": e.municipality}))
    return events


def store_of(path: Path, events: list[Event]) -> str:
    return appended(f"sqlite:///{path}", events)


def appended(url: str, events: list[Event]) -> str:
    """The events appended to the store at `url` in batches of 700, each at its latest record time."""
    now = [datetime(2021, 1, 1, tzinfo=UTC)]
    store = open_store(url, clock=lambda: now[0])
    try:
        for i in range(0, len(events), 700):
            batch = events[i:i + 700]
            now[0] = max(e.recorded_at for e in batch if e.recorded_at) + timedelta(days=i % 3)
            store.append(batch)
    finally:
        store.close()
    return url


def both(url: str, scope: Scope) -> tuple[Snapshot, Snapshot]:
    store = open_store(url)
    try:
        fast = rebuild(store, scope, ALL_PROJECTIONS, digest.EventDigest())
        slow = rebuild(store, scope, ALL_PROJECTIONS, digest.EventDigest(), on_item=lambda item: None)
    finally:
        store.close()
    return fast, slow


def summary(snap: Snapshot) -> object:
    reports = [digest.canonical_rows(build(snap.state, name, version, period, Params()).rows)
               for period in PERIODS for name, version in CURRENT.items()]
    d = snap.digest
    return (reports, d.sha256, d.manifest_sha256, d.count, d.first_position, d.last_position,
            sorted(snap.municipalities), snap.back_registered, snap.state.events, snap.state.last_position,
            [(u.position, u.error) for u in snap.undecodable])


@pytest.mark.parametrize(("seed", "scale"), [(1, 0.05), (2, 0.1), (3, 0.2)])
def test_fast_loop_equals_decoded_fold(tmp_path: Path, seed: int, scale: float) -> None:
    url = store_of(tmp_path / "store.db", history(seed, scale))
    head = open_store(url).head()
    for scope in (Scope(None), Scope(end_of_day(date(2021, 5, 31)), "1880", upto=head),
                  Scope(end_of_day(date(2021, 12, 31)), "1881", upto=head - 50)):
        fast, slow = both(url, scope)
        assert fast.digest.count > 100
        assert summary(fast) == summary(slow)


def test_a_payload_edited_behind_the_store_is_named_the_same_way(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(4, 0.05))
    with sqlite3.connect(tmp_path / "store.db") as conn:
        conn.execute("UPDATE events SET payload = CAST('{\"type\": 1' AS BLOB) WHERE position = 40")
        conn.execute("UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), '\"sex\":', "
                     "'\"sexx\":') AS BLOB) WHERE position IN (41, 42, 43, 44, 45)")
    fast, slow = both(url, Scope(None))
    assert fast.undecodable and summary(fast) == summary(slow)


def test_opening_an_older_store_file_adds_the_read_indexes(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    url = store_of(path, history(5, 0.02))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX ix_events_municipality")
        conn.execute("DROP INDEX ix_events_retractions")
        conn.execute("DROP INDEX ix_events_municipality_recorded")
        before = conn.execute("SELECT count(*), sum(length(payload)) FROM events").fetchone()
    store = open_store(url)
    store.close()
    with sqlite3.connect(path) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert conn.execute("SELECT count(*), sum(length(payload)) FROM events").fetchone() == before
    assert {"ix_events_municipality", "ix_events_retractions", "ix_events_municipality_recorded"} <= names
