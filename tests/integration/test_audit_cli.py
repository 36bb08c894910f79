"""Replay, verify and diff through the real CLI commands and a real SQLite store.

The store's clock is set per append (`Clock`), so appended_at follows the registration dates of the
story instead of today's date (otherwise every event would count as back-registered).
"""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import typer
from typer.testing import CliRunner

from events import Event
from events.timeutil import as_aware
from services.audit import cli as audit_cli
from services.audit.cli import register
from services.store import open_store
from tests.unit import builders as b

runner = CliRunner()
PERIOD = ["--from", "2021-01-01", "--to", "2021-03-31"]
A, B = "2021-04-05", "2021-04-30"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2021, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def append(db: str, clock: Clock, events: list[Event]) -> None:
    """Append each event with the store clock at its recorded_at + 1 minute (registered on time)."""
    store = open_store(db, clock=clock)
    try:
        for event in events:
            assert event.recorded_at is not None
            clock.now = event.recorded_at + timedelta(minutes=1)
            result = store.append([event])
            assert not result.conflicts, result.conflicts
    finally:
        store.close()


def history() -> list[Event]:
    """Three children's institution placements in Q1 2021 and an own unit, all registered on time."""
    return [
        b.unit_capacity_set("U1", "2021-01-01", 4),
        *b.stay("P1", "2021-01-04", "2021-02-15", price=2000),
        *b.stay("P2", "2021-01-10", None, price=3100, category="family_home_external"),
        *b.stay("P3", "2021-02-01", "2021-03-20", regime="own", unit_id="U1"),
        b.placement_repriced("P2", "2021-03-01", 3300),
    ]


@pytest.fixture()
def store(tmp_path: Path) -> tuple[str, Clock]:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    clock = Clock()
    append(db, clock, sorted(history(), key=lambda e: e.recorded_at or e.occurred_at))
    return db, clock


def replay(db: str, out: Path, known_at: str = A, *reports: str) -> Path:
    args = ["replay", *PERIOD, "--known-at", known_at, "--out", str(out), "--db", db]
    for r in reports:
        args += ["--report", r]
    result = runner.invoke(cli(), args)
    assert result.exit_code == 0, result.output
    return out / "proof.json"


def verify(db: str, proof: Path) -> tuple[int, str]:
    result = runner.invoke(cli(), ["verify", str(proof), "--db", db])
    return result.exit_code, result.output


def test_published_figure_is_reproduced_byte_for_byte(store: tuple[str, Clock], tmp_path: Path) -> None:
    db, _ = store
    proof_path = replay(db, tmp_path / "pub")
    proof = orjson.loads(proof_path.read_bytes())
    assert proof["events"]["count"] == 7 and proof["events"]["first_position"] == 1
    assert proof["events"]["back_registered"] == 0
    assert proof["municipalities"] == ["1880"]
    assert {r["name"]: r["definition_version"] for r in proof["reports"]}["external-purchases"] == 1
    code, out = verify(db, proof_path)
    assert code == 0, out
    assert out.startswith("identical")
    again = replay(db, tmp_path / "again")
    for name in ("external-purchases.json", "external-purchases.csv", "occupancy.csv"):
        assert (tmp_path / "pub" / name).read_bytes() == (again.parent / name).read_bytes()


def test_tampering_with_one_stored_event_fails_verify_and_names_it(
    store: tuple[str, Clock], tmp_path: Path
) -> None:
    db, _ = store
    proof_path = replay(db, tmp_path / "pub", A, "external-purchases")
    path = db.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        position, event_id, payload = conn.execute(
            "SELECT position, event_id, payload FROM events "
            "WHERE CAST(payload AS TEXT) LIKE '%\"price_sek\":2000%'"
        ).fetchone()
        conn.execute(
            "UPDATE events SET payload = ? WHERE position = ?",
            (bytes(payload).replace(b'"price_sek":2000', b'"price_sek":2500'), position),
        )
    code, out = verify(db, proof_path)
    assert code == 1, out
    assert "differences:" in out
    named = [line for line in out.splitlines() if "tampered" in line]
    assert len(named) == 1
    assert str(uuid.UUID(hex=event_id)) in named[0] and f"position {position}" in named[0]
    assert "cost_per_day" in out  # the changed figure is listed too


def test_verify_names_events_back_registered_after_publication(
    store: tuple[str, Clock], tmp_path: Path
) -> None:
    db, clock = store
    proof_path = replay(db, tmp_path / "pub", A, "external-purchases")
    late = b.placement_started("P9", "2021-02-01", price=1500, recorded_at="2021-03-01")
    store_ = open_store(db, clock=clock)
    try:
        clock.now = datetime(2021, 5, 10, tzinfo=UTC)
        store_.append([late])
    finally:
        store_.close()
    code, out = verify(db, proof_path)
    assert code == 1, out
    assert str(late.event_id) in out and "back-registered" in out


def test_late_registration_appears_in_diff_with_its_event(store: tuple[str, Clock], tmp_path: Path) -> None:
    db, clock = store
    late = b.placement_started("P7", "2021-02-10", price=2500, recorded_at=as_aware(datetime(2021, 4, 20, 9)))
    fix = b.placement_corrected("P1", "2021-04-22", end="2021-02-20", recorded_at="2021-04-22")
    live = open_store(db)
    reprice = next(e for e in live.read_stream("P2") if e.type == "placement.repriced")
    live.close()
    withdraw = b.retracted(reprice.model_copy(update={"position": None, "appended_at": None}), "2021-04-25",
                           recorded_at="2021-04-25")
    append(db, clock, [late, fix, withdraw])
    result = runner.invoke(
        cli(),
        ["diff", *PERIOD, "--known-at", A, "--known-at", B, "--report", "external-purchases", "--db", db],
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "persons_per_day" in out
    assert "placement.started" in out and "efterregistrering" in out
    assert "placement.corrected" in out and "rättelse" in out
    assert "event.retracted" in out and "återkallelse" in out
    assert "2021-02-10" in out and "2021-04-20" in out
    assert "P-P7" not in out  # person ids never shown


def test_replay_never_writes_to_the_live_store(store: tuple[str, Clock], tmp_path: Path) -> None:
    db, _ = store
    path = Path(db.removeprefix("sqlite:///"))
    files = [p for p in (path, path.with_name(path.name + "-wal")) if p.exists()]

    def state() -> tuple[object, ...]:
        with sqlite3.connect(path) as conn:
            rows = conn.execute(
                "SELECT count(*), max(position), (SELECT position FROM store_head) FROM events"
            )
            counts = rows.fetchone()
        return (*counts, *[(p.stat().st_mtime_ns, p.stat().st_size) for p in files])

    before = state()
    replay(db, tmp_path / "pub")
    verify(db, tmp_path / "pub" / "proof.json")
    assert state() == before


def test_replay_of_missing_store_or_unknown_report_is_a_clear_error(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nope.db'}"
    result = runner.invoke(cli(), ["replay", *PERIOD, "--known-at", A, "--db", missing])
    assert result.exit_code != 0 and "no store at" in result.output
    assert not (tmp_path / "nope.db").exists()
    db = f"sqlite:///{tmp_path / 'live.db'}"
    open_store(db).close()
    result = runner.invoke(cli(), ["replay", *PERIOD, "--known-at", A, "--db", db, "--report", "nope"])
    assert result.exit_code != 0 and "unknown report 'nope'" in result.output


def test_verify_of_a_broken_proof_names_the_field(store: tuple[str, Clock], tmp_path: Path) -> None:
    db, _ = store
    proof_path = replay(db, tmp_path / "pub", A, "intake")
    raw = orjson.loads(proof_path.read_bytes())
    del raw["known_at"]
    proof_path.write_bytes(orjson.dumps(raw))
    code, out = verify(db, proof_path)
    assert code == 2
    assert "not a casestream proof" in out and "known_at" in out


def test_replay_with_and_without_the_page_memo_gives_the_same_proof(
        store: tuple[str, Clock], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db, _ = store
    memo = tmp_path / "memo"
    monkeypatch.setenv("CASESTREAM_REPLAY_MEMO_DIR", str(memo))
    monkeypatch.setattr(audit_cli, "PREPARE_HINT_PAGES", 0)  # one page is many here
    proofs = []
    for run, flags in enumerate(([], [], ["--no-memo"])):
        out = tmp_path / f"run{run}"
        result = runner.invoke(cli(), ["replay", *PERIOD, "--known-at", B, "--out", str(out), "--db", db,
                                       *flags])
        assert result.exit_code == 0, result.output
        assert ("page memo" in result.output) == (run < 2)
        assert ("0 of 1 pages taken from it" in result.output) == (run == 0)
        assert ("started from a checkpoint, then 0 of 0 pages" in result.output) == (run == 1)
        assert ("`casestream prepare-replay` makes" in result.output) == (run == 0)  # read from the first
        proof = orjson.loads((out / "proof.json").read_bytes())
        proofs.append((proof["events"], [(r["name"], r["rows_sha256"]) for r in proof["reports"]]))
        if run == 0:
            kept = sorted(memo.glob("*/*.page"))
            assert len(kept) == 1  # one page: the store is small
    assert proofs[0] == proofs[1] == proofs[2]
    assert sorted(memo.glob("*/*.page")) == kept
    monkeypatch.setenv("CASESTREAM_REPLAY_MEMO", "false")  # off in the settings: --memo turns it on
    other = tmp_path / "other"
    monkeypatch.setenv("CASESTREAM_REPLAY_MEMO_DIR", str(other))
    assert runner.invoke(cli(), ["replay", *PERIOD, "--known-at", B, "--out", str(tmp_path / "x"),
                                 "--db", db]).exit_code == 0
    assert not other.exists()
    assert runner.invoke(cli(), ["replay", *PERIOD, "--known-at", B, "--out", str(tmp_path / "y"),
                                 "--db", db, "--memo"]).exit_code == 0
    assert len(list(other.glob("*/*.page"))) == 1
