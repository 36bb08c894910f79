"""The audit commands: `casestream replay`, `verify`, `diff` and `prepare-replay` (in `prepare_cli`),
registered via services.commands."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from services.audit.compare import Change, shown
from services.audit.diff import Cause, DiffResult

if TYPE_CHECKING:
    from services.settings import Settings

KnownAt = Annotated[str, typer.Option("--known-at", help="as known at this record time (date = end of day)")]
From = Annotated[str, typer.Option("--from", help="first day of the period (YYYY-MM-DD)")]
To = Annotated[str, typer.Option("--to", help="last day of the period, inclusive")]
Municipality = Annotated[str | None, typer.Option("--municipality", help="only this kommunkod")]
PREPARE_HINT_PAGES = 20  # pages a replay without a checkpoint read before it suggests prepare-replay
Db = Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="store URL")]
UseMemo = Annotated[bool | None, typer.Option(
    "--memo/--no-memo", help="take gathered pages and checkpoints from the page memo and keep them there "
    "(default: CASESTREAM_REPLAY_MEMO, on); the figures and hashes are the same either way")]


def _existing_store(db: str | None) -> str:
    """The store URL; a SQLite file must already exist (reading never creates a store)."""
    from services.settings import Settings

    url = db or Settings().db
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise typer.BadParameter(f"no store at {url.removeprefix('sqlite:///')}", param_hint="--db")
    return url


def _memo_folder(settings: Settings, wanted: bool | None) -> Path | None:
    """The page memo's folder: as asked with --memo/--no-memo, else as the settings say."""
    if wanted is None:
        return settings.replay_memo_folder()
    return settings.model_copy(update={"replay_memo": wanted}).replay_memo_folder()


def _check_municipality(code: str | None) -> str | None:
    if code is not None and not (len(code) == 4 and code.isdigit()):
        raise typer.BadParameter(f"{code!r} is not a kommunkod (four digits, e.g. 1880)",
                                 param_hint="--municipality")
    return code


def _check_reports(names: list[str]) -> list[str]:
    from projections.definitions import CURRENT

    for name in names:
        if name not in CURRENT:
            raise typer.BadParameter(f"unknown report {name!r}; choose one of {', '.join(CURRENT)}",
                                     param_hint="--report")
    return names or list(CURRENT)


def replay(
    from_: From, to: To, known_at: KnownAt,
    report: Annotated[list[str] | None, typer.Option("--report", help="repeatable; default all")] = None,
    out: Annotated[Path, typer.Option("--out", help="directory for tables and proof.json")] = Path("replay"),
    municipality: Municipality = None, db: Db = None, memo: UseMemo = None,
) -> None:
    """Rebuild report tables from the store as known at a record time, with a proof bundle."""
    from projections.definitions import Params
    from services.audit.arrow_columns import without_pandas_interop
    from services.audit.replay import Request
    from services.audit.replay import replay as run_replay
    from services.bootstrap import bootstrap
    from services.cli import parse_known_at, parse_period

    names, muni = _check_reports(report or []), _check_municipality(municipality)
    period, at = parse_period(from_, to), parse_known_at(known_at)
    assert at is not None
    without_pandas_interop()  # this process replays only
    app_ = bootstrap(db=_existing_store(db))
    try:
        params = Params(investigation_limit_days=app_.settings.investigation_limit_days)
        request = Request(names, period, at, muni, params)
        folder, read = _memo_folder(app_.settings, memo), Counter[str]()
        proof = run_replay(app_.store, request, out, memo=folder, pages_read=read)
    finally:
        app_.close()
    ev = proof.events
    typer.echo(f"replayed {ev.count} events (positions {ev.first_position}..{ev.last_position}, store head "
               f"{ev.head}) as known at {at.isoformat()}; events SHA-256 {ev.sha256}")
    for r in proof.reports:
        typer.echo(f"  {r.name} v{r.definition_version}: {out / r.files['json'].file}, "
                   f"{out / r.files['csv'].file}; rows SHA-256 {r.rows_sha256}")
    typer.echo(f"proof: {out / 'proof.json'}")
    if folder is not None and read.total():
        start = "started from a checkpoint, then " if read["checkpoint"] else ""
        typer.echo(f"page memo {folder}: {start}{read['memo']} of {read.total() - read['checkpoint']} pages "
                   "taken from it (the same figures and hashes without it: --no-memo)")
        if not read["checkpoint"] and read.total() > PREPARE_HINT_PAGES:
            typer.echo("every page from the first was read: `casestream prepare-replay` makes the memo's "
                       "checkpoints at month ends, so a first replay reads about a month of rows")
    if at > proof.replayed_at:
        typer.echo("OBS: --known-at lies in the future: events registered before it but appended later will "
                   "change these figures (verify names them)")


def verify(proof: Annotated[Path, typer.Argument(help="proof.json of a replay")], db: Db = None) -> None:
    """Re-derive a proof's figures in a clean process: prints "identical" or the differences."""
    if not proof.is_file():
        raise typer.BadParameter(f"no such proof file: {proof}", param_hint="PROOF")
    cmd = [sys.executable, "-m", "services.audit.verify", str(proof), "--db", _existing_store(db)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    typer.echo(done.stdout, nl=False)
    if done.stderr:
        typer.echo(done.stderr, nl=False, err=True)
    raise typer.Exit(done.returncode)


def _cause_table(title: str, causes: list[Cause]) -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("Typ", "Position", "Händelse-id", "Händelsedag", "Registrerad", "Lagrad", "Förklaring"):
        table.add_column(col)
    for c in causes:
        table.add_row(c.type, str(c.position), c.event_id, c.occurred.isoformat(),
                      "" if c.recorded is None else c.recorded.isoformat(), c.appended.isoformat(),
                      ", ".join(c.kinds))
    return table


def diff(
    from_: From, to: To,
    known_at: Annotated[list[str], typer.Option("--known-at", help="record times A and B (twice)")],
    report: Annotated[str, typer.Option("--report", help="report name")],
    municipality: Municipality = None, db: Db = None, memo: UseMemo = None,
) -> None:
    """A report as known at two record times side by side, and the events that explain each change."""
    from projections.definitions import Params
    from services.audit.arrow_columns import without_pandas_interop
    from services.audit.diff import diff as run_diff
    from services.bootstrap import bootstrap
    from services.cli import parse_known_at, parse_period

    if len(known_at) != 2:
        raise typer.BadParameter("give --known-at exactly twice (A and B)", param_hint="--known-at")
    _check_reports([report])
    muni = _check_municipality(municipality)
    period = parse_period(from_, to)
    a, b = sorted(t for t in (parse_known_at(known_at[0]), parse_known_at(known_at[1])) if t is not None)
    without_pandas_interop()  # this process replays only
    app_ = bootstrap(db=_existing_store(db))
    try:
        params = Params(investigation_limit_days=app_.settings.investigation_limit_days)
        result = run_diff(app_.store, report, period, a, b, municipality=muni, params=params,
                          memo=_memo_folder(app_.settings, memo))
    finally:
        app_.close()
    out = Console(width=250)
    if not result.changes:
        out.print(f"{report} v{result.version} {period}: inga ändrade värden mellan känt per {a.isoformat()} "
                  f"och känt per {b.isoformat()}")
        return
    table = Table(title=f"{report} v{result.version} {period}: känt per A = {a.isoformat()}, "
                        f"B = {b.isoformat()}")
    for col in ("Rad", "Kolumn", "Känt per A", "Känt per B"):
        table.add_column(col)
    for ch in result.changes:
        table.add_row(ch.row, ch.column, shown(ch.before), shown(ch.after))
    out.print(table)
    _print_causes(out, result.changes, result)


def _print_causes(out: Console, changes: list[Change], result: DiffResult) -> None:
    seen: set[str] = set()
    for ch in changes:
        if ch.row in seen:
            continue
        seen.add(ch.row)
        causes = result.causes_of(ch)
        if causes:
            out.print(_cause_table(f"Händelser som förklarar {ch.row}", causes))
        else:
            out.print(f"{ch.row}: ingen händelse registrerad mellan A och B förklarar ändringen")


def register(app: typer.Typer) -> None:
    app.command("replay")(replay)
    app.command("verify")(verify)
    app.command("diff")(diff)
    from services.audit.prepare_cli import prepare_replay

    app.command("prepare-replay")(prepare_replay)
