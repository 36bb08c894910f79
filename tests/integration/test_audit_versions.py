"""KPI definitions are versioned: a new version does not break the proofs made with the old one."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

from events.timeutil import Period, end_of_day
from projections import bundle
from projections.definitions import CURRENT, DEFINITIONS, Params, build
from projections.reports.base import Report
from services.audit.proof import load
from services.audit.replay import Request, replay
from services.audit.verify import rederive
from services.store import open_store
from tests.integration.test_audit_cli import Clock, append, history

PERIOD = Period.year(2021)


def _external_purchases_v2(state: bundle.State, period: Period, params: Params) -> Report:
    """A stand-in for a changed definition: version 1's table without its forecast columns."""
    v1 = build(state, "external-purchases", 1, period, params)
    columns = tuple(c for c in v1.columns if not c.key.startswith("forecast"))
    keep = {c.key for c in columns}
    return dataclasses.replace(
        v1, columns=columns, rows=[{k: v for k, v in r.items() if k in keep} for r in v1.rows]
    )


def test_a_definition_bump_keeps_old_proofs_verifiable(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'live.db'}"
    append(db, Clock(), sorted(history(), key=lambda e: e.recorded_at or e.occurred_at))
    registry = {**DEFINITIONS, ("external-purchases", 2): _external_purchases_v2}
    known_at = end_of_day(PERIOD.end)
    store = open_store(db)
    try:
        old = replay(store, Request(["external-purchases"], PERIOD, known_at), tmp_path / "v1")
        bumped = Request(
            ["external-purchases"], PERIOD, known_at, versions={**CURRENT, "external-purchases": 2}
        )
        new = replay(store, bumped, tmp_path / "v2", registry=registry)
        assert old.reports[0].definition_version == 1 and new.reports[0].definition_version == 2
        assert old.reports[0].rows_sha256 != new.reports[0].rows_sha256
        assert rederive(store, old, tmp_path / "v1", registry).identical  # the old proof uses version 1
        assert rederive(store, new, tmp_path / "v2", registry).identical
        unknown = rederive(store, new, tmp_path / "v2")  # code that lacks version 2 says so
        assert not unknown.identical and "'external-purchases' version 2" in unknown.differences[0]
    finally:
        store.close()
    assert load(tmp_path / "v1" / "proof.json").reports[0].definition_version == 1
    done = subprocess.run(
        [sys.executable, "-m", "services.audit.verify", str(tmp_path / "v1" / "proof.json"), "--db", db],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("identical"), done.stdout + done.stderr
