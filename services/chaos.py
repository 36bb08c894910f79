"""`casestream chaos`: a fault campaign on the live pipeline, with a lost / doubled count at the end.

`casestream chaos --runs N --events M --seed S [--workers 2] [--db URL]` runs N times: a fresh store
(SQLite in a temporary directory, or a new database on the PostgreSQL server of `--db`, dropped
afterwards), the embedded broker, the relay and the workers (`services.chaos_run`), M simulated events
appended in batches while a seeded schedule injects faults (`services.chaos_faults`). KPIs per run:

* **händelser** — events in the store at the end (its head);
* **förlorade** (lost) — store events missing from the read model;
* **dubbelräknade** (doubled) — messages applied more than once, fact rows the store does not hold;
* **rapporter lika** — every report from the read model equals the report from a fold of the store;
* **oklara avslag** — disk-full appends that were not refused with the store's StoreError, and
  **delbatchar** — disk-full appends that left part of a batch stored (both must be 0);
* **krascher** — components that exited by themselves (restarted, as a service manager would).

The exit code is 1 when any run lost or doubled an event or broke one of the other checks.
PostgreSQL restarts are injected only with `--db postgresql`, where the campaign starts its own
throwaway server (`services.chaos_pgserver`); a server named by a URL is not the campaign's to restart.
"""

from __future__ import annotations

import itertools
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from events import Event, decode_dict
from services.chaos_faults import FAULT_KINDS
from services.chaos_run import ChaosRun, RunPlan, RunResult
from services.kafka.broker import BrokerError
from services.settings import Settings
from services.store.base import StoreError
from services.supervisor import ComponentFailed

FAULT_LABELS = {"relay_kill9": "kill -9 relä", "worker_kill9": "kill -9 worker",
                "broker_restart": "broker-omstart", "postgres_restart": "PostgreSQL-omstart",
                "disk_full": "disk full"}


@dataclass
class Campaign:
    results: list[RunResult] = field(default_factory=list)
    log_dir: Path | None = None  # kept when a run failed

    def total(self, kind: str) -> int:
        return sum(r.faults[kind] for r in self.results)

    @property
    def ok(self) -> bool:
        return bool(self.results) and all(run_ok(r) for r in self.results)


def run_ok(r: RunResult) -> bool:
    c = r.comparison
    clean = not r.disk_full_unclean and r.partial_batches == 0
    return c is not None and c.lost == 0 and c.doubled == 0 and c.reports_equal and clean


def simulated(seed: int, n: int) -> list[Event]:
    """The first `n` events (registration order) of a seeded two-year simulation, through the codec."""
    from services.simulator.history import Simulation, SimulationConfig

    sim = Simulation(SimulationConfig(start_year=2021, years=2), random.Random(seed))
    return [decode_dict(raw) for raw in itertools.islice(sim.events(), n)]


@contextmanager
def fresh_store(db: str | None, root: Path, run: int) -> Iterator[str]:
    """A store URL nobody used: a SQLite file under `root`, or a new database on the server of `db`."""
    if db is None or db.startswith("sqlite"):
        (root / f"run{run}").mkdir(parents=True, exist_ok=True)
        yield f"sqlite:///{root}/run{run}/store.db"
        return
    from services.chaos_pg import scratch_database

    with scratch_database(db, f"casestream_chaos_{root.name[-8:].lower()}_{run}") as url:
        yield url


def campaign(runs: int, events: int, seed: int, workers: int = 2, db: str | None = None,
             per_kind: int = 2, batch: int | None = None) -> Campaign:
    """Run the campaign; the temporary directory is removed unless a run failed (then `log_dir`).

    `db`: None / "sqlite" = SQLite files; "postgresql" = a server the campaign starts (and restarts as a
    fault); a postgresql:// URL = scratch databases on that server (never restarted).
    """
    settings = Settings()
    root = Path(tempfile.mkdtemp(prefix="casestream-chaos-"))
    out = Campaign()
    try:
        with ExitStack() as stack:
            server, restart_pg = db, None
            if db == "postgresql":
                from services.chaos_pgserver import OwnPostgres

                own = stack.enter_context(OwnPostgres())
                server, restart_pg = own.url, own.restart
            for run in range(1, runs + 1):
                evs = simulated(seed * 1000 + run, events)
                with fresh_store(server, root, run) as url:
                    plan = RunPlan(run, url, workers, batch or max(25, len(evs) // 20), per_kind,
                                   seed * 1000 + run, restart_postgres=restart_pg)
                    out.results.append(ChaosRun(plan, evs, root / f"run{run}" / "logs", settings).execute())
    finally:
        if out.ok:
            shutil.rmtree(root, ignore_errors=True)
        else:
            out.log_dir = root
    return out


def table(result: Campaign) -> Table:
    kinds = [k for k in FAULT_KINDS if result.total(k)]
    t = Table(title="Felkampanj (casestream chaos)")
    for name in ["Körning", *(FAULT_LABELS[k] for k in kinds), "Händelser", "Förlorade", "Dubbelräknade",
                 "Rapporter lika", "Oklara avslag", "Delbatchar", "Krascher", "Sekunder", "Utfall"]:
        t.add_column(name, justify="left" if name in ("Körning", "Utfall") else "right")
    for r in result.results:
        c = r.comparison
        t.add_row(str(r.run), *(str(r.faults[k]) for k in kinds), str(c.events if c else "-"),
                  str(c.lost if c else "-"), str(c.doubled if c else "-"),
                  "ja" if c and c.reports_equal else "nej", str(len(r.disk_full_unclean)),
                  str(r.partial_batches), str(sum(r.crashed.values())), f"{r.seconds:.0f}",
                  "OK" if run_ok(r) else "[red]FEL[/red]")
    done = [r.comparison for r in result.results if r.comparison]
    t.add_row("Summa", *(str(result.total(k)) for k in kinds), str(sum(c.events for c in done)),
              str(sum(c.lost for c in done)), str(sum(c.doubled for c in done)),
              "ja" if all(c.reports_equal for c in done) else "nej",
              str(sum(len(r.disk_full_unclean) for r in result.results)),
              str(sum(r.partial_batches for r in result.results)),
              str(sum(sum(r.crashed.values()) for r in result.results)),
              f"{sum(r.seconds for r in result.results):.0f}",
              "OK" if result.ok else "[red]FEL[/red]", style="bold")
    return t


def chaos(
    runs: Annotated[int, typer.Option(min=1, help="runs, each on a fresh store")] = 3,
    events: Annotated[int, typer.Option(min=1, help="simulated events per run")] = 5000,
    seed: Annotated[int, typer.Option(help="seed of the events and the fault schedule")] = 1,
    workers: Annotated[int, typer.Option(min=1, max=6, help="Faust workers per run")] = 2,
    db: Annotated[str | None, typer.Option(
        help="sqlite (default), postgresql (a throwaway server, restarted as a fault) or a postgresql:// URL"
    )] = None,
    faults_per_kind: Annotated[int, typer.Option(min=1, help="faults of each kind per run")] = 2,
) -> None:
    """Fault campaign: kill -9 relay and workers, broker restarts, disk full; lost and doubled events."""
    if db is not None and not db.startswith(("sqlite", "postgresql")):
        raise typer.BadParameter(f"--db must be sqlite or a postgresql:// URL, got {db!r}")
    console = Console(width=200)
    try:
        result = campaign(runs, events, seed, workers, None if db == "sqlite" else db, faults_per_kind)
    except (ComponentFailed, BrokerError, StoreError, RuntimeError) as exc:
        console.print(f"[red]Felkampanjen avbröts:[/red] {exc}")
        raise typer.Exit(1) from None
    console.print(table(result))
    for r in result.results:
        for problem in r.disk_full_unclean:
            console.print(f"körning {r.run}: disk full gav {problem}, inte StoreError")
        if r.crashed:
            console.print(f"körning {r.run}: omstartade efter krasch: {dict(r.crashed)}")
        if r.comparison and r.comparison.differing:
            console.print(f"körning {r.run}: skiljer sig från lagret: {', '.join(r.comparison.differing)}")
    if result.log_dir:
        console.print(f"Loggar: {result.log_dir}")
    raise typer.Exit(0 if result.ok else 1)


def register(app: typer.Typer) -> None:
    app.command("chaos")(chaos)
