"""`casestream prepare-replay`: prepare a store for fast first replays (`services.audit.prepare`), once
or, with `--every HOURS`, again and again until stopped (the deployment's `replay-prepare` service:
after a deploy, whose new code voids every checkpoint, and after each month end, without anyone
having to remember it).

A repeating run opens the store afresh each time (nothing is held between runs), logs what each run
made, and keeps going after a run that failed (a busy folder, a store that is down, an event that does
not decode: said on stderr, tried again at the next time). SIGTERM, SIGHUP or Ctrl-C stop it: between
runs at once, within one at the next point where Python handles the signal (every checkpoint is
written whole or not at all, and the next run removes a killed run's leftovers).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from services.audit.cli import Db, UseMemo, _check_municipality, _existing_store, _memo_folder
from services.audit.prepare_folder import Busy


def prepare_replay(
    db: Db = None,
    municipality: Annotated[list[str] | None, typer.Option(
        "--municipality", help="only this kommunkod (repeatable; default every one in the store)")] = None,
    months: Annotated[int | None, typer.Option(
        "--months", min=0, help="keep every month end only for the latest N months, before them tertial "
        "ends only (less storage; default: every month end of the history)")] = None,
    rows: Annotated[int | None, typer.Option(
        "--rows", min=1, help="cut a month at day ends where more than N rows of a municipality were "
        "recorded since the checkpoint before (fewer: faster first replays, more storage; default "
        "25 000)")] = None,
    every: Annotated[float, typer.Option(
        "--every", min=0, help="run again every HOURS hours until stopped (SIGTERM, Ctrl-C); 0: once")] = 0,
    memo: UseMemo = None,
) -> None:
    """Prepare a store for fast replays: give a SQLite store's events made before this version their parsed
    lines, then make each municipality's checkpoints at month ends in the page memo (incremental: run it
    after every deploy and month end, or keep it running with --every)."""
    from services.settings import Settings
    from services.supervisor import install_signal_handlers

    url = _existing_store(db)
    wanted = municipality or []
    for code in wanted:
        _check_municipality(code)
    folder = _memo_folder(Settings(), memo)
    if not every:
        failed = _once(url, wanted, months, rows, folder)
        if failed:
            raise typer.Exit(failed)
        return
    install_signal_handlers()  # SIGTERM as Ctrl-C: stops the loop
    try:
        while True:
            started = time.monotonic()
            typer.echo(f"prepare-replay run at {datetime.now(UTC).isoformat(timespec='seconds')}")
            failed = _once(url, wanted, months, rows, folder)
            if failed:
                typer.echo(f"this run failed (exit {failed}); the next in {every:g} h", err=True)
            time.sleep(max(0.0, every * 3600 - (time.monotonic() - started)))
    except KeyboardInterrupt:
        typer.echo("prepare-replay stopped")


def _once(url: str, wanted: list[str], months: int | None, rows: int | None, folder: Path | None) -> int:
    """One run; its exit code (0: done, 1: failed or stopped at an event; said why)."""
    from services.audit.prepare import prepare
    from services.store import StoreError, open_store
    from services.store.sql import SqlStore

    try:
        store = open_store(url)
    except StoreError as exc:
        typer.echo(f"--db: {exc}", err=True)
        return 1
    try:
        if not isinstance(store, SqlStore) or store.engine.dialect.name not in ("sqlite", "postgresql"):
            typer.echo(f"{url}: only SQLite and PostgreSQL stores keep checkpoints; nothing to do")
            return 0
        if store.engine.dialect.name == "sqlite":
            t0 = time.perf_counter()
            filled = store.fill_parsed()
            typer.echo(f"{filled} events given their parsed lines in {time.perf_counter() - t0:.1f} s "
                       f"(events whose payload has none are parsed at each replay)")
        if folder is None:
            typer.echo("no page memo (--no-memo or CASESTREAM_REPLAY_MEMO off): no checkpoints made")
            return 0
        try:
            done = prepare(store, folder, wanted or None, months=months, rows=rows)
        except (ValueError, Busy) as exc:  # no SHA-256 state to save, an unlisted retraction, another run
            typer.echo(f"no checkpoints made: {exc}", err=True)
            return 1
    finally:
        store.close()
    for r in done:
        since = f"from {r.resumed.date().isoformat()}" if r.resumed else "from the first event"
        last = r.last.date().isoformat() if r.last else "none yet"
        typer.echo(f"{r.municipality}: {r.made} checkpoints made {since} ({r.events} events read, "
                   f"{r.seconds:.1f} s); latest month end {last}" + (f"; STOPPED: {r.stopped}" if r.stopped
                                                                      else ""))
    typer.echo(f"checkpoints in {folder}")
    return 1 if any(r.stopped for r in done) else 0
