"""`casestream person show` and `casestream gallring`: read a person's personal part, apply retention.

    casestream person show psn:7f3a9c21e4                       # the person's unsealed personal fields
    casestream gallring --policy deploy/retention.yaml --dry-run --run-date 2027-01-01 --out persons.txt
    casestream gallring --policy deploy/retention.yaml --apply  # shred the keys, log retention.applied

`person show` appends one `access.viewed` event (level case; who and when) before it prints.
`gallring` without `--apply` is a dry run that removes nothing.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from services.cli import DbOption, open_app
from services.privacy import retention
from services.privacy.personal import person_entries
from services.privacy.policy import PolicyError, load
from services.privacy.sealing import SealingStore

out = Console()
err = Console(stderr=True)
person_app = typer.Typer(no_args_is_help=True, help="A person's sealed personal part (personuppgifter).")


def _sealing(store: object) -> SealingStore:
    assert isinstance(store, SealingStore), "the composition root always builds a SealingStore"
    return store


@person_app.command("show")
def show(
    person: Annotated[str, typer.Argument(help="the pseudonymous person id, e.g. psn:7f3a9c21e4")],
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """Print the person's unsealed personal fields, event by event (gallrade parts say so)."""
    from services.access_cli import record_person_view

    app_ = open_app(db, must_exist=True)
    try:
        store = _sealing(app_.store)
        entries = list(person_entries(store, store.keys, person))
        record_person_view(app_.store, app_.settings)  # logged before anything is shown
    finally:
        app_.close()
    if fmt == "json":
        rows = [{"event_id": e.event_id, "type": e.type, "stream_id": e.stream_id,
                 "business_day": e.business_day.isoformat(), "fields": e.fields, "status": e.status}
                for e in entries]
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not entries:
        out.print(f"Inga personuppgifter lagrade för {person}.")
        return
    table = Table("Händelse", "Typ", "Ström", "Dag", "Personuppgifter", title=f"Personuppgifter: {person}")
    for e in entries:
        shown = ", ".join(f"{k}={v}" for k, v in sorted((e.fields or {}).items())) or e.status
        table.add_row(e.event_id, e.type, e.stream_id, e.business_day.isoformat(), shown)
    out.print(table)


def _run_date(value: str | None) -> date:
    if value is None:
        return retention.today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--run-date {value!r} is not a date (YYYY-MM-DD)") from None


def _print_plan(plan: retention.Plan, applied: bool) -> None:
    verb = "Gallrat" if applied else "Skulle gallras (torrkörning)"
    table = Table("Kommun", "Policy", "Regel", "Brytdag", "Personer", "Ärenden", "Händelser",
                  title=f"{verb}, gallringsdag {plan.run_date.isoformat()}")
    for row in plan.rows:
        table.add_row(row.municipality, row.policy, row.rule, row.cut_off.isoformat(), str(len(row.persons)),
                      str(row.cases), str(row.events))
    out.print(table)
    for (policy, rule), n in sorted(plan.kept_forever.items()):
        out.print(f"Bevaras enligt {policy}/{rule}: {n} personer")
    out.print(f"Öppna ärenden eller pågående placeringar (gallras inte): {plan.open_persons} personer; "
              f"redan gallrade: {plan.done_persons} personer")


def gallring(
    policy: Annotated[Path, typer.Option("--policy", help="policy file (YAML)")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="report only (the default)")] = False,
    apply: Annotated[bool, typer.Option("--apply", help="shred the keys and log retention.applied")] = False,
    run_date: Annotated[str | None, typer.Option(help="gallringsdag (default today, Stockholm)")] = None,
    out_file: Annotated[Path | None, typer.Option("--out", help="write the selected pseudonyms here")] = None,
    db: DbOption = None,
) -> None:
    """Retention: what a policy removes (dry run), or remove it by crypto-shredding (--apply)."""
    if dry_run and apply:
        raise typer.BadParameter("give --dry-run or --apply, not both", param_hint="--apply")
    try:
        policies = load(policy)
    except PolicyError as exc:
        raise typer.BadParameter(str(exc), param_hint="--policy") from None
    day = _run_date(run_date)
    app_ = open_app(db, must_exist=True)
    try:
        store = _sealing(app_.store)
        plan = retention.plan(store, store.keys, policies, day)
        if out_file is not None:
            names = sorted(p for row in plan.rows for p in row.persons)
            out_file.write_text("".join(f"{n}\n" for n in names), encoding="utf-8")
        destroyed = retention.apply(store, store.keys, plan) if apply else 0
    finally:
        app_.close()
    _print_plan(plan, apply)
    if apply:
        out.print(f"{destroyed} nycklar förstörda; {len(plan.rows)} retention.applied-händelser i loggen.")


def register(app: typer.Typer) -> None:
    app.add_typer(person_app, name="person")
    app.command("gallring")(gallring)
