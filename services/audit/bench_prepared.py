"""`casestream bench replay`'s prepared part (`services.audit.bench`): `casestream prepare-replay` of one
municipality into an empty folder, then first as-of replays from those checkpoints, each in a fresh
process; and the as-of municipality-year replay every part of the bench measures (`asof`)."""

from __future__ import annotations

import itertools
import json
import resource
import subprocess
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer

from events.timeutil import Period, end_of_day


def measure_prepared(db: str, memo: str, municipality: str) -> dict[str, Any]:
    """Runs in a fresh process: `casestream prepare-replay`'s month-end checkpoints of one municipality
    (`services.audit.prepare`) into an empty folder."""
    from services.audit.prepare import prepare
    from services.store import open_store
    from services.store.sql import SqlStore

    store = open_store(db)
    try:
        if not isinstance(store, SqlStore):
            raise TypeError(f"the bench's store {db} did not open as a SQL store")
        t0, c0 = time.perf_counter(), time.process_time()
        (done,) = prepare(store, Path(memo), [municipality])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()
    if done.stopped or done.last is None:
        raise RuntimeError(f"prepare-replay of {municipality} stopped: {done.stopped or 'no month end'}")
    return {"s": wall, "cpu_s": cpu, "events": done.events, "made": done.made,
            "last": done.last.date().isoformat(),
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure_asof(db: str, memo: str, municipality: str, year: int, known: str) -> dict[str, Any]:
    """Runs in a fresh process: one as-of municipality-year replay with the memo (`_asof`)."""
    from services.store import open_store

    store = open_store(db)
    try:
        wall, cpu, events, read = asof(store, municipality, year, Path(memo), date.fromisoformat(known))
    finally:
        store.close()
    return {"s": wall, "cpu_s": cpu, "events": events, "pages": read}


def prepared_runs(cmd: list[str], path: Path, municipality: str, year: int
                   ) -> tuple[dict[str, Any], list[Any]]:
    """Prepared checkpoints of the municipality in an empty folder, then as-of replays from them, each
    the scope's first at its known-at and in a fresh process: as known at the end of the year (one is
    prepared at it), at the end of the day before the year's prepared checkpoint with the most rows
    since the one before it (the most rows such a first replay folds), and at the 15th of the latest
    prepared month."""
    with tempfile.TemporaryDirectory(dir=path.parent) as memo:
        done = subprocess.run([*cmd[:4], "prepared", memo, municipality], capture_output=True, text=True,
                              check=True)
        made = json.loads(done.stdout)
        made["state_mb"] = sum(f.stat().st_size for f in Path(memo).rglob("p-*.state")) / 2**20
        made["manifest_mb"] = sum({f.stat().st_ino: f.stat().st_size for f in Path(memo).rglob("p-*.manifest")
                                   }.values()) / 2**20
        last = date.fromisoformat(made["last"])
        runs = []
        for y, known in ((year, date(year, 12, 31)), (year, widest(Path(memo), year)),
                         (last.year, last.replace(day=15))):
            done = subprocess.run([*cmd[:4], "asof", memo, municipality, str(y), known.isoformat()],
                                  capture_output=True, text=True, check=True)
            runs.append((y, known, json.loads(done.stdout)))
    return made, runs


def widest(memo: Path, year: int) -> date:
    """The day before the prepared checkpoint of `year` with the most events since the one before it."""
    recs = sorted((json.loads(p.read_bytes()) for p in memo.rglob("p-*.json")), key=lambda r: r["known_at"])
    gaps = [(b["count"] - a["count"], datetime.fromisoformat(b["known_at"]).date())
            for a, b in itertools.pairwise(recs) if b["known_at"].startswith(f"{year}-")]
    if not gaps:
        raise RuntimeError(f"no prepared checkpoint in {year} with one before it in {memo}")
    return max(gaps)[1] - timedelta(days=1)


def asof(store: Any, municipality: str, year: int, memo: Path | None,
          known: date | None = None) -> tuple[float, float, int, dict[str, int]]:
    """The as-of replay of one municipality-year (3 reports, manifest and proof), as known at the end of
    the year (or of `known`): wall s, CPU s, events, and how its pages were read."""
    from collections import Counter

    from services.audit.replay import Request, replay

    request = Request(["external-purchases", "occupancy", "intake"], Period.year(year),
                      end_of_day(known or date(year, 12, 31)), municipality)
    read: Counter[str] = Counter()
    with tempfile.TemporaryDirectory() as out:
        t1, c1 = time.perf_counter(), time.process_time()
        proof = replay(store, request, Path(out), memo=memo, pages_read=read)
        return time.perf_counter() - t1, time.process_time() - c1, proof.events.count, dict(read)


def print_prepared(made: dict[str, Any], runs: list[Any], municipality: str, without: float) -> None:
    from services.audit.prepare import ROWS_BETWEEN

    typer.echo(
        f"prepared checkpoints of {municipality} (casestream prepare-replay; every month end, months of more "
        f"than {ROWS_BETWEEN:,} rows cut at day ends): "
        f"{made['made']} made from {made['events']} events in {made['s']:.1f} s wall, "
        f"{made['cpu_s']:.1f} s CPU, peak RSS {made['rss_mb']:.0f} MB; states {made['state_mb']:,.0f} MB "
        f"compressed, "
        f"one manifest {made['manifest_mb']:,.0f} MB; the first as-of replay of each scope from them, "
        "each in a fresh process: " + "; ".join(
            f"municipality-year {y} as known at {known} ({r['events']} events) {r['s']:.2f} s wall, "
            f"{r['cpu_s']:.2f} s CPU ({without / r['s']:.1f} times as fast as the first without, same run; "
            f"pages {r['pages']})" for y, known, r in runs)
    )
