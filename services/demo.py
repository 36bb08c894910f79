"""`casestream demo`: a simulated municipality in the embedded store, its report tables, live events.

No Docker and nothing to configure: the store is `sqlite:///var/demo/store.db` (settings `demo_db`).
The demo loads a seeded history of `--years` calendar years up to now (one month when
CASESTREAM_TEST_SCALE=small), prints the externa-köp and beläggning tables for this year so far,
starts the components of `COMPONENT_PROVIDERS` through the supervisor, prints their URLs, and
streams live events at `--rate` per second until Ctrl-C / SIGTERM (or `--duration` seconds), then
stops every child process. A second run reuses the store: batches of the history that are already
stored are skipped (the history is deterministic for the seed and start year), and only events
registered since the last run are added.
"""

from __future__ import annotations

import faulthandler
import random
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from events.timeutil import Period
from services.bootstrap import open_event_store
from services.render import render
from services.reports import bundle_from_store, report_from_bundle
from services.settings import Settings
from services.simulator.cli import live_feed, now, store_writer
from services.simulator.core import Raw
from services.simulator.history import Simulation, SimulationConfig
from services.simulator.live import run_live
from services.simulator.sinks import LoadReport, load_store
from services.store.base import EventStore
from services.supervisor import Supervisor, install_signal_handlers, resolve

# The demo's components, started in this order through the supervisor. Each entry names a provider
# "package.module:function" returning list[Component] (or (name, argv) pairs) for the demo settings.
# The pipeline (broker unless KAFKA_BOOTSTRAP_SERVERS is set, relay, worker), the KPI exporter with
# /metrics, and the Streamlit UI.
COMPONENT_PROVIDERS: Final[tuple[str, ...]] = (
    "services.kafka.cli:demo_components",
    "services.metrics.exporter:demo_components",
    "services.ui_command:demo_components",
)

# The report tables the demo prints, each with the columns shown (the full tables: casestream report).
REPORTS: Final[dict[str, tuple[str, ...]]] = {
    "external-purchases": ("line", "target_group", "price_unit", "persons_per_day", "budget_persons_per_day",
                           "cost_per_day", "budget_price_sek", "budget_sek", "forecast_total_sek",
                           "forecast_deviation_sek"),
    "occupancy": ("unit", "places", "ack", "occupied_places_per_day"),
}
out = Console(width=250)


def demo_config(settings: Settings, years: int) -> SimulationConfig:
    """`years` calendar years up to now (small scale: the last month)."""
    today = now().date()
    start_year = today.year - years + 1
    first = today - timedelta(days=30) if settings.test_scale == "small" else None
    return SimulationConfig(start_year=start_year, years=years, start=first, until=now())


def sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


def discard_old_readmodel(settings: Settings) -> bool:
    """Delete the demo's SQLite read model when an earlier version wrote it in another column layout.

    A read model is derived data (the worker refills it from the store), so the demo removes it and
    says so instead of letting the worker stop with `OldLayout` after an upgrade. True when removed.
    """
    from services.readmodel.persist import check_live_layout, open_readmodel, readmodel_url
    from services.readmodel.tables import OldLayout

    url = readmodel_url(settings)
    path = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if path is None or not path.exists():
        return False
    engine = open_readmodel(url)
    try:
        check_live_layout(engine)
        return False
    except OldLayout:
        pass
    finally:
        engine.dispose()
    for part in path.parent.glob(path.name + "*"):  # the file and its -wal / -shm
        part.unlink()
    out.print(f"[yellow]Läsmodellen {path} hade en äldre tabellayout; den togs bort och byggs om "
              "från butiken.[/yellow]")
    return True


def load_history(store: EventStore, sim: Simulation) -> LoadReport:
    """Append the history with a progress bar over its business days."""
    first = sim.config.first_day
    columns = (TextColumn("Historik"), BarColumn(), MofNCompleteColumn(),
               TextColumn("dagar  {task.fields[n]} händelser"), TimeElapsedColumn())
    with Progress(*columns, console=out) as bar:
        task = bar.add_task("history", total=sim.days, n=0)

        def progress(handled: int, last: Raw) -> None:
            day = (date.fromisoformat(last["recorded_at"][:10]) - first).days
            bar.update(task, completed=max(0, min(sim.days, day)), n=handled)

        report = load_store(store, sim.events(), progress=progress, same_history=True)
        bar.update(task, completed=sim.days)
    return report


def print_reports(store: EventStore, settings: Settings, start: date) -> None:
    today = now().date()
    period = Period(max(start, date(today.year, 1, 1)), today)
    state = bundle_from_store(store)
    for name, keys in REPORTS.items():
        full = report_from_bundle(state, name, period, settings)
        months = tuple(c.key for c in full.columns if c.key.startswith("pct_"))
        shown = [c for c in full.columns if c.key in keys or c.key in months]
        render(replace(full, columns=tuple(shown)), "table", out)


def demo(
    years: Annotated[int, typer.Option(help="simulated calendar years up to now")] = 2,
    rate: Annotated[float, typer.Option(help="live events per second")] = 5.0,
    duration: Annotated[float | None, typer.Option(help="seconds of live events, then stop")] = None,
    no_live: Annotated[bool, typer.Option("--no-live", help="stop after the report tables")] = False,
    db: Annotated[str | None, typer.Option(help="store URL (default: settings demo_db)")] = None,
) -> None:
    """Simulate a municipality into the embedded store, print the report tables, stream live events."""
    if years < 1:
        raise typer.BadParameter(f"--years must be at least 1, got {years}")
    base = Settings()
    url = db or base.demo_db
    settings = base.model_copy(update={"db": url})
    sqlite_dir(url)
    install_signal_handlers()
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>`: every thread's stack to stderr (a demo that hangs)
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    store = open_event_store(settings)  # the sealing write path (docs/privacy.md)
    try:
        with Supervisor(settings.var_dir / "logs", base_env=None) as supervisor:
            _run(store, settings, supervisor, years, 0.0 if no_live else rate, duration)
    except KeyboardInterrupt:
        out.print("Avslutar: alla komponenter är stoppade.")
    finally:
        store.close()


def _run(store: EventStore, settings: Settings, supervisor: Supervisor, years: int, rate: float,
         duration: float | None) -> None:
    sim = Simulation(demo_config(settings, years), random.Random(settings.demo_seed))
    report = load_history(store, sim)
    out.print(f"Historik: {report.accepted} nya händelser, {report.duplicates} fanns redan "
              f"(butik {settings.db}, position {store.head()}).")
    if report.other_history:
        out.print(f"[yellow]Butiken {settings.db} har en annan historik (annat startår eller frö); "
                  "den används som den är. Ta bort filen för en ny.[/yellow]")
    for conflict in report.conflicts[:10]:
        out.print(f"[red]konflikt[/red] {conflict}")
    print_reports(store, settings, sim.config.first_day)
    discard_old_readmodel(settings)
    running = supervisor.start_all(resolve(COMPONENT_PROVIDERS, settings))
    for r in running:
        out.print(f"{r.component.name}: {r.component.url or 'körs'} (pid {r.process.pid}, logg {r.log})")
    if not running:
        out.print("Inga komponenter startade (pipeline, exporter och UI kopplas in via COMPONENT_PROVIDERS).")
    if rate <= 0:
        return
    out.print(f"Live: {rate:g} händelser/s till {settings.db} (Ctrl-C avslutar).")
    began = time.monotonic()

    def should_stop() -> bool:
        return duration is not None and time.monotonic() - began >= duration

    sent = run_live(live_feed(sim, settings.demo_seed), status_writer(store), rate, should_stop)
    out.print(f"Live: {sent} händelser skickade, position {store.head()}.")


def status_writer(store: EventStore, every: float = 10.0) -> Callable[[list[Raw]], None]:
    """Append live batches and print a status line every `every` seconds."""
    write = store_writer(store)
    state = {"sent": 0, "next": time.monotonic() + every}

    def status(batch: list[Raw]) -> None:
        write(batch)
        state["sent"] += len(batch)
        if time.monotonic() >= state["next"]:
            out.print(f"Live: {int(state['sent'])} händelser hittills, position {store.head()}.")
            state["next"] = time.monotonic() + every
    return status


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
