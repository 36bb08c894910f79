"""`casestream simulate`: a seeded history to a JSONL file or straight into a store, then live events.

    casestream simulate --years 2 --start-year 2021 --seed 1880 --out events.jsonl
    casestream simulate --years 1 --db sqlite:///casestream.db --rate 20      # history, then 20 events/s
    casestream simulate --years 1 --until 2021-01-31 --out january.jsonl      # as registered by 31 January

The history never holds what is registered after now (the store refuses future registrations).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, datetime
from pathlib import Path
from typing import IO, Annotated

import typer
from rich.console import Console

from events import decode_dict
from events.timeutil import STOCKHOLM, end_of_day
from services.bootstrap import open_event_store
from services.settings import Settings
from services.simulator.core import Raw
from services.simulator.history import Simulation, SimulationConfig
from services.simulator.live import LiveFeed, run_live
from services.simulator.sinks import encode_raw, load_store, write_jsonl
from services.store.base import EventStore
from services.supervisor import install_signal_handlers

err = Console(stderr=True)


def now() -> datetime:
    return datetime.now(tz=STOCKHOLM)


def build_config(years: int, start_year: int, municipalities: tuple[str, ...], scale: float,
                 until: str | None = None) -> SimulationConfig:
    """The history's config, cut off at `until` (end of that day) or at now, whichever is earlier."""
    if years < 1:
        raise typer.BadParameter(f"--years must be at least 1, got {years}")
    if scale <= 0:
        raise typer.BadParameter(f"--scale must be positive, got {scale}")
    bad = [m for m in municipalities if not (len(m) == 4 and m.isdigit())]
    if bad:
        raise typer.BadParameter(f"municipality codes are four digits (1880 = Örebro); got {', '.join(bad)}")
    config = SimulationConfig(start_year=start_year, years=years, municipalities=municipalities, scale=scale)
    cutoff = min(config.cutoff, now(), _end_of(until) if until is not None else config.cutoff)
    if cutoff < config.cutoff:
        config = SimulationConfig(start_year=start_year, years=years, municipalities=municipalities,
                                  scale=scale, until=cutoff, calibration=config.calibration)
    return config


def _end_of(day: str) -> datetime:
    try:
        return end_of_day(date.fromisoformat(day))
    except ValueError:
        raise typer.BadParameter(f"--until {day!r} is not a date (YYYY-MM-DD)") from None


def live_feed(sim: Simulation, seed: int) -> LiveFeed:
    """A live feed continuing the first municipality, with its own random stream (seed + start time)."""
    ctx = sim.contexts[0]
    running = [d["placement_id"] for d in sim.open_placements(ctx) if "unit_id" not in d]
    rng = random.Random(f"{seed}:live:{now().isoformat()}")
    return LiveFeed(ctx.cal, ctx.municipality, rng, now, running)


def store_writer(store: EventStore) -> Callable[[list[Raw]], None]:
    def write(batch: list[Raw]) -> None:
        store.append([decode_dict(e) for e in batch])
    return write


def file_writer(out: IO[bytes]) -> Callable[[list[Raw]], None]:
    def write(batch: list[Raw]) -> None:
        out.write(b"".join(encode_raw(e) for e in batch))
        out.flush()
    return write


def _never() -> bool:
    return False


def simulate(
    years: Annotated[int, typer.Option(help="simulated years")] = 2,
    start_year: Annotated[int, typer.Option(help="first year (from 1 January)")] = 2021,
    municipality: Annotated[str, typer.Option(help="kommunkod")] = "1880",
    municipalities: Annotated[str | None, typer.Option(help="more kommunkoder, comma separated")] = None,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same events")] = 1880,
    scale: Annotated[float, typer.Option(help="volume factor against the calibration")] = 1.0,
    out: Annotated[Path | None, typer.Option(help="write JSONL here ('-' = standard output)")] = None,
    db: Annotated[str | None, typer.Option(help="append to this store instead (sqlite:///…)")] = None,
    rate: Annotated[float, typer.Option(help="after the history, live events per second until Ctrl-C")] = 0.0,
    until: Annotated[str | None, typer.Option(help="only what is registered by the end of this day")] = None,
) -> None:
    """Generate a seeded, realistic event history (Örebro-like), to JSONL or a store."""
    if (out is None) == (db is None):
        raise typer.BadParameter("give exactly one of --out FILE.jsonl or --db URL")
    extra = tuple(m.strip() for m in (municipalities or "").split(",") if m.strip())
    codes = (municipality, *(m for m in extra if m != municipality))
    config = build_config(years, start_year, codes, scale, until)
    sim = Simulation(config, random.Random(seed))
    if rate > 0:
        install_signal_handlers()  # SIGTERM ends the live phase like Ctrl-C
    try:
        if db is not None:
            _to_store(sim, db, rate, seed)
        else:
            assert out is not None
            _to_file(sim, out, rate, seed)
    except KeyboardInterrupt:
        err.print("avbrutet")


def _to_store(sim: Simulation, db: str, rate: float, seed: int) -> None:
    store = open_event_store(Settings().model_copy(update={"db": db}))  # the sealing write path
    try:
        report = load_store(store, sim.events())
        err.print(f"accepted {report.accepted}  duplicate {report.duplicates}  "
                  f"conflicts {len(report.conflicts)}")
        for c in report.conflicts[:10]:
            err.print(f"[red]conflict[/red] {c}")
        if report.conflicts:
            raise typer.Exit(1)
        if rate > 0:
            err.print(f"live: {rate:g} händelser/s till {db} (Ctrl-C avslutar)")
            run_live(live_feed(sim, seed), store_writer(store), rate, _never)
    finally:
        store.close()


def _to_file(sim: Simulation, out: Path, rate: float, seed: int) -> None:
    with nullcontext(sys.stdout.buffer) if str(out) == "-" else out.open("wb") as fh:
        n = write_jsonl(sim.events(), fh)
        fh.flush()
        err.print(f"wrote {n} events to {out}")
        if rate > 0:
            err.print(f"live: {rate:g} händelser/s till {out} (Ctrl-C avslutar)")
            run_live(live_feed(sim, seed), file_writer(fh), rate, _never)


def register(app: typer.Typer) -> None:
    app.command("simulate")(simulate)
