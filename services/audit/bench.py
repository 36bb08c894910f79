"""`casestream bench replay`: full-rebuild throughput, peak memory and an as-of municipality-year replay.

Builds (or reuses) a SQLite store of N synthetic events — a seeded mix of aktualiseringar, utredningar
and placements (started, repriced, ended) over several municipalities and years, registered within a
few days of their business day — then measures in a fresh spawned process (so the figures are the
replay's own, not the generator's):

* full rebuild: every event folded into all projections, stored bytes hashed (the events hash; no
  per-event manifest, which only a written proof keeps), in events/s, and how its pages were read
  (on whole columns, with Python, row by row: `services.audit.columnar_loop`); then again in another
  fresh process with two reader processes (`services.audit.parallel`), with the one-process time
  over it (a ratio measured in the same run); and again in one process parsing every payload instead
  of taking the store's parsed lines (`services.store.parsed`; a store made before them is given
  them first, `SqlStore.fill_parsed`), with its time over the one with them;
* peak RSS of those processes (ru_maxrss; with readers: the folding process and the largest reader);
* as-of replay of one municipality-year: the external-purchases, occupancy and intake reports of one
  year for one municipality, as known at the end of that year, with manifest and proof written;
* the same with the page memo (`services.audit.page_memo`, in a temporary folder beside the store):
  a full rebuild that fills it, then in another fresh process one that takes it, with the rates over
  those without the memo of the same run; and the as-of replay with it: the first fills the memo and
  makes the scope's checkpoints (`services.audit.checkpoint`), the second starts from the latest
  (as known at the same time: the exact one, or the prefix one where the replay read no row after it),
  a third, as known a month later, from the prefix one (then reads the rows above it), a fourth the
  same again (its pages now in the memo; a month's rows write no checkpoint of their own at 10 M,
  `checkpoint.spares`), and the first in the second process starts from the latest again.

* prepared checkpoints of one municipality, then first as-of replays from them
  (`services.audit.bench_prepared`).

The history and its store are `services.audit.bench_history`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from services.audit.bench_history import build_store
from services.audit.bench_prepared import asof, measure_asof, measure_prepared, prepared_runs, print_prepared


def _measure_two(db: str) -> dict[str, Any]:
    """Runs in a fresh process: the full rebuild with two reader processes (`services.audit.parallel`)."""
    from projections.definitions import ALL_PROJECTIONS
    from services.audit.digest import EventDigest
    from services.audit.replay import rebuild
    from services.audit.source import Scope
    from services.store import open_store

    store = open_store(db)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        snap = rebuild(store, Scope(None), ALL_PROJECTIONS, EventDigest(listed=False), processes=2)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()
    readers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"events": snap.digest.count, "two_s": wall,
            "two_cpu_s": cpu + readers.ru_utime + readers.ru_stime,
            "two_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "reader_rss_mb": readers.ru_maxrss / 1024}


def _measure_payloads(db: str) -> dict[str, Any]:
    """Runs in a fresh process: the full rebuild in one process with every page parsed from its payloads,
    not from the store's parsed lines (`services.store.parsed`): the peer of the rebuild with them."""
    from projections.definitions import ALL_PROJECTIONS
    from services.audit.digest import EventDigest
    from services.audit.replay import rebuild
    from services.audit.source import Scope
    from services.store import open_store

    store = open_store(db)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        snap = rebuild(store, Scope(None), ALL_PROJECTIONS, EventDigest(listed=False), processes=1,
                       lines=False)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        store.close()
    return {"payloads_s": wall, "payloads_cpu_s": cpu, "payloads_events": snap.digest.count,
            "payloads_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _measure_memo(db: str, memo: str, municipality: str, year: int) -> dict[str, Any]:
    """Runs in a fresh process: the full rebuild with the page memo, as `casestream replay` runs it
    (filling it: reader processes for a large store; taking it: one process), then the as-of
    municipality-year replay twice with it (the first fills that scope's pages)."""
    from projections.definitions import ALL_PROJECTIONS
    from services.audit.digest import EventDigest
    from services.audit.replay import rebuild
    from services.audit.source import Scope
    from services.store import open_store

    store = open_store(db)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        snap = rebuild(store, Scope(None), ALL_PROJECTIONS, EventDigest(listed=False), memo=Path(memo))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        readers = resource.getrusage(resource.RUSAGE_CHILDREN)  # before the proof's git starts
        out = {"events": snap.digest.count, "s": wall, "cpu_s": cpu, "rss_mb": rss, "pages": dict(snap.paths),
               "reader_rss_mb": readers.ru_maxrss / 1024}
        del snap  # the as-of replays run without the whole store's state beside them
        later = date(year + 1, 1, 31)
        out["asof"] = [asof(store, municipality, year, Path(memo), known)
                       for known in (None, None, later, later)]
    finally:
        store.close()
    return out


def _measure(db: str, municipality: str, year: int) -> dict[str, Any]:
    """Runs in a fresh spawned process: full rebuild, then an as-of municipality-year replay."""
    from projections.definitions import ALL_PROJECTIONS
    from services.audit.digest import EventDigest
    from services.audit.replay import rebuild
    from services.audit.source import Scope
    from services.store import open_store

    store = open_store(db)
    try:
        t0, c0 = time.perf_counter(), time.process_time()
        snap = rebuild(store, Scope(None), ALL_PROJECTIONS, EventDigest(listed=False), processes=1)
        full, full_cpu = time.perf_counter() - t0, time.process_time() - c0
        out: dict[str, Any] = {"events": snap.digest.count, "full_s": full, "full_cpu_s": full_cpu,
                               "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                               "pages": dict(snap.paths)}
        del snap  # the as-of replay runs without the whole store's state beside it
        out["asof_s"], out["asof_cpu_s"], out["asof_events"], _ = asof(store, municipality, year, None)
    finally:
        store.close()
    return out


def bench_replay(
    events: Annotated[int, typer.Option("--events", help="events in the store")] = 10_000_000,
    municipalities: Annotated[int, typer.Option(help="municipalities in the history")] = 4,
    years: Annotated[int, typer.Option(help="years of history from 2020")] = 5,
    db: Annotated[Path | None, typer.Option("--db-file", help="SQLite file to build or reuse")] = None,
    order: Annotated[str, typer.Option(help="how a new store's events are appended: 'case' (each case's "
                                            "events together) or 'recorded' (in record order, as live)")
                     ] = "case",
) -> None:
    """Replay benchmark: full rebuild events/s, peak RSS, as-of replay of one municipality-year."""
    if order not in ("case", "recorded"):
        raise typer.BadParameter(f"'case' or 'recorded', not {order!r}", param_hint="--order")
    suffix = "" if order == "case" else f"-{order}"
    path = db or Path(tempfile.gettempdir()) / f"casestream-bench-{events}{suffix}.db"
    if not path.exists():
        t0 = time.perf_counter()
        head = build_store(path, events, municipalities, years, order=order)
        typer.echo(f"built {path}: {head} events in {time.perf_counter() - t0:.1f} s")
    _fill_lines(path)
    cmd = [sys.executable, "-m", "services.audit.bench", f"sqlite:///{path}", "1880", str(2020 + years // 2)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)  # a fresh process: its own RSS
    r = json.loads(done.stdout)
    done = subprocess.run([*cmd, "two"], capture_output=True, text=True, check=True)
    r.update(json.loads(done.stdout))
    done = subprocess.run([*cmd, "payloads"], capture_output=True, text=True, check=True)
    r.update(json.loads(done.stdout))
    load = os.getloadavg()[0]
    typer.echo(
        f"cores {os.cpu_count()} (load {load:.1f}); full rebuild {int(r['events'])} events in "
        f"{r['full_s']:.1f} s wall = {r['events'] / r['full_s']:,.0f} events/s "
        f"({r['events'] / r['full_cpu_s']:,.0f} events/s of CPU time); peak RSS {r['rss_mb']:.0f} MB; "
        f"with 2 reader processes {r['events'] / r['two_s']:,.0f} events/s wall "
        f"({r['events'] / r['two_cpu_s']:,.0f} events/s of CPU, all processes; one process took "
        f"{r['full_s'] / r['two_s']:.2f} times as long), peak RSS {r['two_rss_mb']:.0f} MB "
        f"+ {r['reader_rss_mb']:.0f} MB per reader at most; "
        f"as-of replay of one municipality-year ({int(r['asof_events'])} events, 3 reports, proof) "
        f"{r['asof_s']:.2f} s wall, {r['asof_cpu_s']:.2f} s CPU; full rebuild pages read {r['pages']}"
    )
    typer.echo(
        f"full rebuild parsing every payload (not the store's parsed lines), one process: "
        f"{r['payloads_events'] / r['payloads_s']:,.0f} events/s wall "
        f"({r['payloads_events'] / r['payloads_cpu_s']:,.0f} events/s of CPU), peak RSS "
        f"{r['payloads_rss_mb']:.0f} MB; with the lines {r['payloads_s'] / r['full_s']:.2f} times the rate"
    )
    with tempfile.TemporaryDirectory(dir=path.parent) as memo:  # the page memo, filled then taken
        runs = []
        for _ in range(2):
            done = subprocess.run([*cmd, "memo", memo], capture_output=True, text=True, check=True)
            runs.append(json.loads(done.stdout))
        size = sum(f.stat().st_size for f in Path(memo).rglob("*.page"))
        points = sum(f.stat().st_size for f in Path(memo).glob("checkpoints/*/*") if f.is_file())
    made, prepared = prepared_runs(cmd, path, "1880", 2020 + years // 2)
    (cold, warm), n = runs, r["events"]
    a_fill, a_exact, a_later, a_later_again = cold["asof"]
    a_again = warm["asof"][0]
    typer.echo(
        f"page memo ({size / 2**20:,.0f} MB for {int(n)} events): full rebuild filling it "
        f"{n / cold['s']:,.0f} events/s ({r['full_s'] / cold['s']:.2f} times the rate without; peak RSS "
        f"{cold['rss_mb']:.0f} MB" + (f" + {cold['reader_rss_mb']:.0f} MB per reader at most" if cold[
            "reader_rss_mb"] else ", no readers") + "), "
        f"taking it {n / warm['s']:,.0f} events/s wall, {n / warm['cpu_s']:,.0f} events/s of CPU "
        f"({r['full_s'] / warm['s']:.2f} times the rate without), peak RSS {warm['rss_mb']:.0f} MB, "
        f"pages {warm['pages']}; as-of replay of one municipality-year filling it and making its "
        f"checkpoints ({points / 2**20:,.0f} MB) {a_fill[0]:.2f} s; from its checkpoint, as known at the "
        f"same time, {a_exact[0]:.2f} s wall, {a_exact[1]:.2f} s CPU ({r['asof_s'] / a_exact[0]:.2f} "
        f"times as fast as without; pages {a_exact[3]}), {a_again[0]:.2f} s wall in another process; "
        f"as known a month later ({a_later[2]} events) {a_later[0]:.2f} s wall, {a_later[1]:.2f} s CPU "
        f"(pages {a_later[3]}), again {a_later_again[0]:.2f} s wall, {a_later_again[1]:.2f} s CPU "
        f"(pages {a_later_again[3]})"
    )
    print_prepared(made, prepared, "1880", r["asof_s"])


def _fill_lines(path: Path) -> None:
    """Give the rows of a store made before the parsed lines theirs (`SqlStore.fill_parsed`), once."""
    from services.store import open_store
    from services.store.sql import SqlStore

    store = open_store(f"sqlite:///{path}")
    try:
        if not isinstance(store, SqlStore):
            raise TypeError(f"the bench's store {path} did not open as a SQL store")
        t0 = time.perf_counter()
        filled = store.fill_parsed()
        if filled:
            typer.echo(f"gave {filled} rows of {path} their parsed lines in {time.perf_counter() - t0:.1f} s")
    finally:
        store.close()


def register(app: typer.Typer) -> None:
    """Adds `replay` to the `bench` group (creating the group when no other module has yet)."""
    for group in app.registered_groups:
        if group.name == "bench" and group.typer_instance is not None:
            group.typer_instance.command("replay")(bench_replay)
            return
    bench = typer.Typer(help="benchmarks", no_args_is_help=True)
    bench.command("replay")(bench_replay)
    app.add_typer(bench, name="bench")


if __name__ == "__main__":
    from services.audit.arrow_columns import without_pandas_interop

    without_pandas_interop()  # as the replay commands run (a process that replays only)
    if sys.argv[4:] == ["two"]:
        typer.echo(json.dumps(_measure_two(sys.argv[1])))
    elif sys.argv[4:] == ["payloads"]:
        typer.echo(json.dumps(_measure_payloads(sys.argv[1])))
    elif sys.argv[2:3] == ["prepared"]:
        typer.echo(json.dumps(measure_prepared(sys.argv[1], sys.argv[3], sys.argv[4])))
    elif sys.argv[2:3] == ["asof"]:
        typer.echo(json.dumps(measure_asof(sys.argv[1], sys.argv[3], sys.argv[4], int(sys.argv[5]),
                                            sys.argv[6])))
    elif sys.argv[4:5] == ["memo"]:
        typer.echo(json.dumps(_measure_memo(sys.argv[1], sys.argv[5], sys.argv[2], int(sys.argv[3]))))
    else:
        typer.echo(json.dumps(_measure(sys.argv[1], sys.argv[2], int(sys.argv[3]))))
