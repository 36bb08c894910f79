"""`casestream chaos` at a small size: a fault campaign on the live pipeline loses and doubles nothing.

Two runs on fresh SQLite stores, broker + relay + two Faust workers each; every applicable fault kind
(kill -9 relay, kill -9 worker, broker restart, disk-full append) is injected twice per run while the
simulated events arrive in batches. At the end the read model equals the fold of the store (no event
lost, none doubled, every report equal), every disk-full append was refused as a whole with the
store's StoreError, and no process the campaign started is left running (psutil).
Sizes follow CASESTREAM_TEST_SCALE (small: 2 x 2 000 events).
"""

from __future__ import annotations

import os
from pathlib import Path

import psutil
import pytest
import typer
from rich.console import Console
from sqlalchemy import text
from typer.testing import CliRunner

from services.chaos import Campaign, campaign, register, simulated, table
from services.chaos_check import compare, history_period
from services.chaos_faults import BROKER_RESTART, DISK_FULL, RELAY_KILL, WORKER_KILL
from services.readmodel.persist import open_readmodel
from services.readmodel.rebuild import rebuild
from services.readmodel.tables import PROJECTIONS
from services.settings import Settings
from services.store import open_store

SCALE = os.environ.get("CASESTREAM_TEST_SCALE", "small")
EVENTS = {"small": 2000, "medium": 6000, "large": 20_000}.get(SCALE, 2000)


def _alive_children() -> list[psutil.Process]:
    out = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            continue
    return out


@pytest.fixture(scope="module")
def result() -> Campaign:
    before = {p.pid for p in _alive_children()}
    done = campaign(runs=2, events=EVENTS, seed=7, workers=2, per_kind=2)
    left = [f"{p.pid} {p.cmdline()[:3]}" for p in _alive_children() if p.pid not in before]
    assert not left, f"processes left running after the campaign: {left}"
    return done


def test_nothing_lost_or_doubled(result: Campaign) -> None:
    assert len(result.results) == 2
    for run in result.results:
        c = run.comparison
        assert c is not None
        assert c.events == EVENTS
        assert (c.lost, c.doubled) == (0, 0), f"run {run.run}: lost {c.lost}, doubled {c.doubled}"
        assert c.reports_equal, f"run {run.run}: differs from the fold of the store: {c.differing}"


def test_every_fault_kind_was_injected(result: Campaign) -> None:
    for kind in (RELAY_KILL, WORKER_KILL, BROKER_RESTART, DISK_FULL):
        assert result.total(kind) >= 2, f"fault {kind} injected {result.total(kind)} times"


def test_disk_full_refused_whole_batch_with_store_error(result: Campaign) -> None:
    assert all(r.partial_batches == 0 for r in result.results)
    assert [p for r in result.results for p in r.disk_full_unclean] == []
    assert result.ok


def test_report_table(result: Campaign) -> None:
    console = Console(record=True, width=250)
    console.print(table(result))
    text = console.export_text()
    assert "Summa" in text and "Förlorade" in text and "kill -9 relä" in text


def test_bad_db_option_is_named() -> None:
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)  # two commands, so `chaos` is addressed by name
    out = CliRunner().invoke(app, ["chaos", "--db", "mysql://somewhere/db"])
    assert out.exit_code == 2
    assert "--db" in out.output and "mysql://somewhere/db" in out.output


def test_the_check_sees_lost_and_doubled_events(tmp_path: Path) -> None:
    """The end check is not blind: a read model refilled from the store is equal; drop/double: it sees it."""
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    events = simulated(11, 600)
    store.append(events)
    engine = open_readmodel(f"sqlite:///{tmp_path}/readmodel.db")
    head = store.head()
    for projection in PROJECTIONS:
        rebuild(store, engine, projection)
    with engine.begin() as conn:
        for projection in PROJECTIONS:
            conn.execute(text("INSERT INTO projection_position VALUES (:p, 0, :h, -1, :h)"),
                         {"p": projection, "h": head})
    days = [e.business_date for e in events]
    period = history_period(min(days), max(days))
    clean = compare(store, engine, Settings(), period)
    assert (clean.events, clean.lost, clean.doubled, clean.reports_equal) == (head, 0, 0, True)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM rm_care_costs_g1 WHERE position IN "
                          "(SELECT position FROM rm_care_costs_g1 ORDER BY position LIMIT 3)"))
        conn.execute(text("UPDATE projection_position SET events = events + 2 WHERE projection = 'intake'"))
    broken = compare(store, engine, Settings(), period)
    assert (broken.lost, broken.doubled, broken.reports_equal) == (3, 2, False)
    assert "care_costs" in broken.differing
    engine.dispose()
    store.close()
