"""The `casestream` command line: thin commands over the services; `main()` is the entry point."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from events.timeutil import Period, as_aware, end_of_day
from services.bootstrap import App, bootstrap
from services.render import Format, render
from services.settings import Settings
from services.store import StoreError

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="casestream: live, provable socialnämnd KPIs."
)
err = Console(stderr=True)

DbOption = Annotated[
    str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="store URL (sqlite:///file.db, postgresql://…)")
]


def parse_known_at(value: str | None) -> datetime | None:
    """A date means the end of that day ("as reported on 31 August"); a datetime is taken as given."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return end_of_day(date.fromisoformat(value))
        return as_aware(datetime.fromisoformat(value))
    except ValueError:
        raise typer.BadParameter(f"--known-at {value!r} is not a date (YYYY-MM-DD) or ISO datetime") from None


def parse_period(start: str, end: str) -> Period:
    try:
        return Period(date.fromisoformat(start), date.fromisoformat(end))
    except ValueError as exc:
        raise typer.BadParameter(f"--from {start} --to {end}: {exc}") from None


@app.command()
def ingest(
    source: Annotated[str, typer.Argument(help="a .jsonl file, or - for standard input")],
    db: DbOption = None,
    rejects: Annotated[Path | None, typer.Option(help="where rejected lines go (JSONL with reasons)")] = None,
) -> None:
    """Append events from JSONL; prints accepted / duplicate / rejected counts."""
    from services.ingest import ingest_lines

    app_ = open_app(db)
    rejects_path = rejects or (Path("rejected.jsonl") if source == "-" else Path(source + ".rejected.jsonl"))
    batch_size = app_.settings.ingest_batch_size
    try:
        with rejects_path.open("wb") as rej:
            if source == "-":
                report = ingest_lines(app_.store, sys.stdin.buffer, rej, batch_size=batch_size)
            else:
                path = Path(source)
                if not path.is_file():
                    raise typer.BadParameter(f"no such file: {source}")
                with path.open("rb") as src:
                    report = ingest_lines(app_.store, src, rej, batch_size=batch_size)
    finally:
        app_.close()
    out = Console()
    out.print(f"accepted {report.accepted}  duplicate {report.duplicates}  rejected {report.rejected}")
    if report.rejected:
        for r in report.rejections[:10]:
            err.print(f"[red]rejected[/red] {r.error.message}")
        err.print(f"all rejected lines with reasons: {rejects_path}")
        raise typer.Exit(1)
    rejects_path.unlink(missing_ok=True)


REPORT_HELP = ("occupancy | external-purchases | intake | investigations | lvu-lvm | budget | forecast | "
               "logguppfoljning (--month YYYY-MM)")


def open_app(db: str | None, *, must_exist: bool = False) -> App:
    """Bootstrap with a clear error for a bad store URL (or, for readers, a SQLite file that is not there)."""
    url = db if db is not None else Settings().db
    if must_exist and url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise typer.BadParameter(f"no event store at {url} (run `casestream ingest` first, or pass --db)",
                                 param_hint="--db")
    try:
        return bootstrap(db=db)
    except StoreError as exc:
        raise typer.BadParameter(str(exc), param_hint="--db") from None


@app.command()
def report(
    name: Annotated[str, typer.Argument(help=REPORT_HELP)],
    from_: Annotated[str | None, typer.Option("--from", help="first day of the period (YYYY-MM-DD)")] = None,
    to: Annotated[str | None, typer.Option("--to", help="last day of the period, inclusive")] = None,
    known_at: Annotated[str | None, typer.Option(
        "--known-at", help="as known at this record time (a date means the end of that day)")] = None,
    fmt: Annotated[Format, typer.Option("--format", help="table | csv | json")] = "table",
    db: DbOption = None,
    source: Annotated[str, typer.Option(
        "--source", help="store (fold the event store) | readmodel (live)")] = "store",
    month: Annotated[str | None, typer.Option("--month", help="logguppfoljning: the month (YYYY-MM)")] = None,
) -> None:
    """Print a report table for a business period, as known now or at a record time.

    json: an array of row objects, unrounded, money in SEK, percent as percent (docs/reports.md);
    table and csv round half up as the reports do.
    """
    from services.access_cli import LOG_REVIEW, record_report_run
    from services.reports import REPORT_NAMES, build_report

    if name == LOG_REVIEW:
        return log_review(db, month, fmt)
    if name not in REPORT_NAMES:
        raise typer.BadParameter(f"unknown report {name!r}; choose one of {', '.join(REPORT_NAMES)}, "
                                 f"{LOG_REVIEW}", param_hint="NAME")
    if from_ is None or to is None:
        raise typer.BadParameter(f"report {name} needs --from and --to (YYYY-MM-DD)",
                                 param_hint="--from/--to")
    period = parse_period(from_, to)
    as_of = parse_known_at(known_at)
    if source not in ("store", "readmodel"):
        raise typer.BadParameter(f"unknown source {source!r}; choose store or readmodel",
                                 param_hint="--source")
    app_ = open_app(db, must_exist=True)
    try:
        if source == "readmodel":
            from services.readmodel.source import report_from_readmodel

            table = report_from_readmodel(app_.settings, name, period, as_of)
            warn_if_behind(app_.settings, app_.store.head())
        else:
            table = build_report(app_.store, name, period, as_of, app_.settings)
        record_report_run(app_.store, app_.settings, name, period, as_of)
    finally:
        app_.close()
    render(table, fmt, Console(width=250))


def log_review(db: str | None, month: str | None, fmt: Format) -> None:
    """`report logguppfoljning --month YYYY-MM`: the month's access log per user (services.access_cli)."""
    from services.access_cli import log_review_report

    app_ = open_app(db, must_exist=True)
    try:
        table = log_review_report(app_.store, app_.settings, month)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from None
    finally:
        app_.close()
    render(table, fmt, Console(width=250))


def warn_if_behind(settings: Settings, head: int) -> None:
    """The live read model may lag the store (or be empty when no worker ran): say so, never silently."""
    from services.readmodel.persist import open_readmodel, readmodel_url
    from services.readmodel.source import applied_totals

    engine = open_readmodel(readmodel_url(settings))
    try:
        _, top = applied_totals(engine)
    finally:
        engine.dispose()
    if top < head:
        err.print(f"[yellow]OBS:[/yellow] the read model has applied events up to position {top}, the store "
                  f"holds {head}; figures lag by {head - top} events (relay and worker up?)")


def main() -> None:
    from services.commands import register_all

    register_all(app)
    app()
