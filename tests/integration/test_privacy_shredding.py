"""Crypto-shredding end to end on a real SQLite store (and PostgreSQL): sealed at the one write path,
read back, removed by gallring, and every figure unchanged.

The store is a small simulated year plus two persons with personal fields: `psn:gallrad-1` (case
closed in 2021, removed by a run on 2030-01-01 under a 5-year rule) and `psn:aktiv-1` (case still
open, never removed).
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

import orjson
import pytest
import typer
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from events import Event, encode
from events.timeutil import Period
from services.audit.cli import register as register_audit
from services.bootstrap import bootstrap
from services.privacy import retention
from services.privacy.cli import register as register_privacy
from services.privacy.personal import person_entries
from services.privacy.policy import parse
from services.privacy.sealing import SealingStore
from services.readmodel.facts import decode_fast, decode_stored
from services.render import to_json
from services.reports import REPORT_NAMES, build_report
from services.settings import Settings
from services.simulator.history import Simulation, SimulationConfig
from services.simulator.sinks import load_store
from services.store import open_store
from tests.unit import builders as b

runner = CliRunner()
COMMENT = "Flyttat till Umeå med sin mamma"
POLICY = "policies:\n  - name: sol\n    keep_years: 5\n    overrides:\n" \
         "      - {name: lvu, legal_basis: [LVU], keep: forever}\n"
PERIOD = Period(date(2021, 1, 1), date(2021, 12, 31))


def personal_events() -> list[Event]:
    return [
        b.envelope("case.actualised", "case:g1", "2021-02-01", {
            "person": "psn:gallrad-1", "channel": "report", "target_group": "youth", "birth_year": 2009},
            event_id="0c5e7d2a-41b8-4f3e-9a6d-0000000000a1"),
        b.envelope("case.closed", "case:g1", "2021-03-01", {"reason": "completed", "comment": COMMENT},
                   event_id="0c5e7d2a-41b8-4f3e-9a6d-0000000000a2"),
        b.envelope("case.actualised", "case:a1", "2021-05-01", {
            "person": "psn:aktiv-1", "channel": "application", "target_group": "adults", "birth_year": 1980},
            event_id="0c5e7d2a-41b8-4f3e-9a6d-0000000000a3"),
    ]


def cli() -> typer.Typer:
    app = typer.Typer()
    register_privacy(app)
    register_audit(app)
    return app


def invoke(*args: str) -> str:
    result = runner.invoke(cli(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def reports(db: str) -> dict[str, bytes]:
    """Every report as `--format json` prints it."""
    app = bootstrap(db=db)
    try:
        return {n: to_json(build_report(app.store, n, PERIOD, None, app.settings)) for n in REPORT_NAMES}
    finally:
        app.close()


def shown(db: str, person: str) -> list[dict[str, object]]:
    output = invoke("person", "show", person, "--db", db, "--format", "json")
    rows: list[dict[str, object]] = orjson.loads(output)
    return rows


@pytest.fixture()
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    app = bootstrap(db=url)
    try:
        sim = Simulation(SimulationConfig(years=1, scale=0.05), random.Random(9))
        report = load_store(app.store, sim.events())
        assert not report.conflicts
        assert not app.store.append(personal_events()).conflicts
    finally:
        app.close()
    return url


def raw_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_personal_fields_are_sealed_at_the_write_path_and_read_back(db: str) -> None:
    stored = raw_bytes(db)
    assert COMMENT.encode() not in stored and b"Felaktigt" not in stored  # simulated correction reasons
    assert b'"birth_year":2009' not in stored and b'"birth_year":1980' not in stored
    rows = shown(db, "psn:gallrad-1")
    assert [r["fields"] for r in rows] == [{"birth_year": 2009}, {"comment": COMMENT}]
    assert {r["status"] for r in rows} == {"open"}
    app = bootstrap(db=db)
    try:  # the worker decodes the sealed stored form (fast path and full path agree)
        sealed = [e for e in app.store.read_all() if e.sealed is not None]
        assert len(sealed) >= 3
        for event in sealed:
            assert decode_fast(encode(event), event.position) == event == decode_stored(encode(event))
        logged = [e for e in app.store.read_all() if e.type == "access.viewed"]
        # the read-back is itself logged (who and when; not whose part, so the log review lists no ids)
        seen = [(e.data.view, e.data.level, e.data.channel) for e in logged]
        assert seen == [("person:show", "case", "cli")]
        assert "psn:gallrad-1" not in encode(logged[0]).decode()
    finally:
        app.close()


def test_re_appending_is_a_duplicate_also_of_an_event_stored_in_clear_before_sealing(db: str) -> None:
    old = b.envelope("case.actualised", "case:o1", "2021-04-01", {
        "person": "psn:fore-1", "channel": "report", "target_group": "adults", "birth_year": 1970},
        event_id="0c5e7d2a-41b8-4f3e-9a6d-0000000000b1")
    raw = open_store(db)  # a store written before sealing existed: the event is stored in clear
    raw.append([old])
    raw.close()
    app = bootstrap(db=db)
    try:
        again = app.store.append([*personal_events(), old])
        assert len(again.duplicates) == 4 and not again.conflicts and not again.accepted
        other = old.model_copy(update={"data": old.data.model_copy(update={"birth_year": 1971})})
        assert len(app.store.append([other]).conflicts) == 1  # the same id with other content
    finally:
        app.close()


def test_gallring_dry_run_removes_nothing_and_apply_shreds_only_the_persons_data(
    db: str, tmp_path: Path
) -> None:
    policy = tmp_path / "retention.yaml"
    policy.write_text(POLICY, encoding="utf-8")
    before = reports(db)
    proof = tmp_path / "proof"
    invoke("replay", "--from", "2021-01-01", "--to", "2021-12-31", "--known-at", "2022-06-30",
           "--out", str(proof), "--db", db)
    listed = tmp_path / "persons.txt"
    dry = invoke("gallring", "--policy", str(policy), "--run-date", "2030-01-01", "--dry-run",
                 "--out", str(listed), "--db", db)
    assert "2025-01-01" in dry
    names = listed.read_text(encoding="utf-8").split()
    assert "psn:gallrad-1" in names and "psn:aktiv-1" not in names
    assert shown(db, "psn:gallrad-1")[0]["status"] == "open"  # the dry run removed nothing

    keys_file = Path(db.removeprefix("sqlite:///")).with_suffix(".keys.db")
    app = bootstrap(db=db)
    assert isinstance(app.store, SealingStore)
    secret = app.store.keys.key("psn:gallrad-1").secret  # type: ignore[union-attr]
    head = app.store.head()
    app.close()
    assert secret is not None and secret in raw_bytes(f"sqlite:///{keys_file}")

    invoke("gallring", "--policy", str(policy), "--run-date", "2030-01-01", "--apply", "--db", db)
    rows = shown(db, "psn:gallrad-1")
    assert [r["fields"] for r in rows] == [None, None]
    assert all("the key is shredded" in str(r["status"]) for r in rows)
    assert shown(db, "psn:aktiv-1")[0]["fields"] == {"birth_year": 1980}
    assert secret not in raw_bytes(f"sqlite:///{keys_file}")  # secure_delete + WAL truncated: bytes gone
    assert reports(db) == before
    assert invoke("verify", str(proof / "proof.json"), "--db", db).startswith("identical")

    app = bootstrap(db=db)
    try:
        applied = [e for e in app.store.read_all(after=head) if e.type != "access.viewed"]  # (person show)
        assert [e.type for e in applied] == ["retention.applied"]
        assert orjson.loads(orjson.dumps(applied[0].data.model_dump(mode="json")))["persons"] == len(names)
        again = app.store.append(personal_events()[:2])  # re-ingest after shredding: duplicates
        assert len(again.duplicates) == 2 and not again.conflicts and not again.accepted
        closed = personal_events()[1]
        changed = closed.model_copy(update={"occurred_at": date(2021, 3, 2)})
        assert len(app.store.append([changed]).conflicts) == 1  # public part differs: still a conflict
    finally:
        app.close()
    out = invoke("gallring", "--policy", str(policy), "--run-date", "2030-01-01", "--apply", "--db", db)
    assert "0 nycklar förstörda; 0 retention.applied" in out
    app = bootstrap(db=db)
    after = [e.type for e in app.store.read_all(after=head) if e.type != "access.viewed"]
    assert after == ["retention.applied"]  # the second apply appended nothing
    app.close()


def test_postgresql_store_and_key_store(pg_fresh_url: str) -> None:
    settings = Settings(db=pg_fresh_url)
    app = bootstrap(settings)
    try:
        assert not app.store.append(personal_events()).conflicts
        store = app.store
        assert isinstance(store, SealingStore)
        engine = create_engine(pg_fresh_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with engine.connect() as conn:
            payloads = b"".join(bytes(r[0]) for r in conn.execute(text("SELECT payload FROM events")))
        assert COMMENT.encode() not in payloads and b"2009" not in payloads
        plan = retention.plan(store, store.keys, parse(POLICY), date(2030, 1, 1))
        assert [r.persons for r in plan.rows] == [["psn:gallrad-1"]]
        assert retention.apply(store, store.keys, plan) == 2  # the person's key and the case stream's
        with engine.connect() as conn:
            live = conn.execute(text("SELECT key_id FROM privacy_keys WHERE secret IS NOT NULL")).all()
        engine.dispose()
        assert [r[0] for r in live] == ["psn:aktiv-1"]
        assert [e.fields for e in person_entries(store, store.keys, "psn:gallrad-1")] == [None, None]
    finally:
        app.close()
