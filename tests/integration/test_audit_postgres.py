"""Replay and verify against PostgreSQL: the stored bytes are read from the payload column there too."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from services.store import open_store
from tests.integration.test_audit_cli import A, Clock, append, history, replay, verify


def test_replay_verify_and_tamper_on_postgresql(pg_fresh_url: str, tmp_path: Path) -> None:
    append(pg_fresh_url, Clock(), sorted(history(), key=lambda e: e.recorded_at or e.occurred_at))
    proof = replay(pg_fresh_url, tmp_path / "pub", A, "external-purchases", "occupancy")
    code, out = verify(pg_fresh_url, proof)
    assert code == 0 and out.startswith("identical"), out
    store = open_store(pg_fresh_url)
    try:
        target = next(e for e in store.read_stream("P2") if e.type == "placement.started")
    finally:
        store.close()
    engine = create_engine(pg_fresh_url)
    try:
        with engine.begin() as conn:
            payload = conn.execute(text("SELECT payload FROM events WHERE position = :p"),
                                   {"p": target.position}).scalar_one()
            changed = bytes(payload).replace(b'"price_sek":3100', b'"price_sek":3900')
            conn.execute(text("UPDATE events SET payload = :b WHERE position = :p"),
                         {"b": changed, "p": target.position})
    finally:
        engine.dispose()
    code, out = verify(pg_fresh_url, proof)
    assert code == 1, out
    tampered = [line for line in out.splitlines() if "tampered" in line]
    assert len(tampered) == 1 and str(target.event_id) in tampered[0]
    assert f"position {target.position}" in tampered[0]
