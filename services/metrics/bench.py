"""`casestream bench latency`: time from appending an event to the changed KPI being visible on /metrics.

Set-up: a SQLite store (a temporary file unless `--db`), optionally loaded with a simulated history
(`--history-years`, the simulator's seeded municipality) so the KPIs are read off a realistic state, and
the exporter as its own process (`python -m services.metrics exporter`), with the reference day
the last day of the history. The writer appends aktualiseringar (`case.actualised`, the most frequent
event type) dated on the reference day at a steady `--rate` in one batch every 100 ms; a reader scrapes
/metrics back to back. A batch counts as visible at the end of the first scrape whose
`casestream_intake_month_all_cases` includes it; its latency is that moment minus the moment its
append returned. Reported: p50 / p90 / p99 / max latency, the achieved rate, the scrape rate.
"""

from __future__ import annotations

import random
import re
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer

from events.codec import decode_dict
from events.envelope import Event
from events.timeutil import STOCKHOLM
from events.vocabulary import CHANNELS, TARGET_GROUPS
from services.settings import Settings
from services.store import open_store
from services.store.base import EventStore

TICK = 0.1  # one append (a store transaction) per 100 ms: 100 events per batch at 1 000 events/s
_SAMPLE = re.compile(rb"^casestream_intake_month_all_cases(?:\{[^}]*\})? (\S+)$", re.M)


def actualised(day: date, n: int, rng: random.Random) -> Event:
    return decode_dict({
        "event_id": str(uuid.uuid4()), "type": "case.actualised", "stream_id": f"bench-case-{n}",
        "municipality": "1880", "occurred_at": day.isoformat(),
        "data": {"person": f"bench-person-{n}", "channel": rng.choice(CHANNELS),
                 "target_group": rng.choice(TARGET_GROUPS), "sex": "unknown"},
    })


@dataclass
class Timeline:
    """Per batch: cumulative events appended and when its append returned; when a scrape showed it."""

    appended: list[tuple[int, float]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    scrapes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def intake_total(url: str) -> float | None:
    with urllib.request.urlopen(url, timeout=10) as resp:
        found = _SAMPLE.search(resp.read())
    return None if found is None else float(found.group(1))


def watch(url: str, base: float, line: Timeline, stop: threading.Event) -> None:
    """Scrape back to back; each batch is timed at the end of the first scrape that includes it."""
    seen = 0
    while not stop.is_set():
        total = intake_total(url)
        now = time.perf_counter()
        line.scrapes += 1
        if total is None:
            continue
        with line.lock:
            while seen < len(line.appended) and base + line.appended[seen][0] <= total:
                line.latencies.append(now - line.appended[seen][1])
                seen += 1


def write(store: EventStore, day: date, rate: int, duration: float, line: Timeline) -> int:
    """Append `rate` events per second in batches every TICK for `duration` seconds."""
    rng, n, per_tick = random.Random(1880), 0, max(1, round(rate * TICK))
    start = time.perf_counter()
    for k in range(int(duration / TICK)):
        delay = start + k * TICK - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        batch = [actualised(day, n + i, rng) for i in range(per_tick)]
        store.append(batch)
        n += per_tick
        with line.lock:
            line.appended.append((n, time.perf_counter()))
    return n


def today() -> date:
    return datetime.now(STOCKHOLM).date()


def load_history(store: EventStore, years: int, scale: float) -> date:
    """The simulator's seeded municipality for `years` years before this one; returns its last day."""
    from services.simulator.history import Simulation, SimulationConfig
    from services.simulator.sinks import load_store

    start_year = today().year - years
    config = SimulationConfig(start_year=start_year, years=years, scale=scale)
    load_store(store, Simulation(config, random.Random(1880)).events())
    return date(start_year + years - 1, 12, 31)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise typer.BadParameter(f"the exporter exited with {proc.returncode}")
        try:
            total = intake_total(url)
            if total is not None:
                return total
        except OSError:
            pass
        time.sleep(0.2)
    raise typer.BadParameter(f"the exporter did not answer on {url} within {timeout:.0f} s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_latency(
    rate: Annotated[int, typer.Option(help="events appended per second")] = 1000,
    duration: Annotated[float, typer.Option(help="seconds of steady load")] = 60.0,
    history_years: Annotated[int, typer.Option(help="simulated years loaded first (0 = none)")] = 1,
    scale: Annotated[float, typer.Option(help="simulator scale of the history")] = 1.0,
    db: Annotated[Path | None, typer.Option(help="SQLite file to use (default: a temporary one)")] = None,
) -> None:
    """Append → visible on /metrics latency (p50/p99) at a steady event rate."""
    from services.metrics.exporter import exporter_argv

    if rate < 1 or duration <= 0:
        raise typer.BadParameter("--rate must be at least 1 and --duration positive")
    with tempfile.TemporaryDirectory(prefix="casestream-bench-") as tmp:
        url = f"sqlite:///{db or Path(tmp) / 'store.db'}"
        store = open_store(url)
        t0 = time.perf_counter()
        day = load_history(store, history_years, scale) if history_years > 0 else today()
        typer.echo(f"history: {store.head()} events in {time.perf_counter() - t0:.1f} s; reference day {day}")
        port = free_port()
        argv = exporter_argv(Settings(db=url, metrics_as_of=day), port=port)
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        metrics = f"http://127.0.0.1:{port}/metrics"
        try:
            base = _wait_ready(metrics, proc, timeout=600)
            line, stop = Timeline(), threading.Event()
            reader = threading.Thread(target=watch, args=(metrics, base, line, stop), daemon=True)
            reader.start()
            started = time.perf_counter()
            sent = write(store, day, rate, duration, line)
            elapsed = time.perf_counter() - started
            deadline = time.monotonic() + 60
            while len(line.latencies) < len(line.appended) and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()
            reader.join(timeout=15)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
            store.close()
    _report(line, sent, elapsed)


def _report(line: Timeline, sent: int, elapsed: float) -> None:
    if len(line.latencies) < len(line.appended):
        typer.echo(f"only {len(line.latencies)} of {len(line.appended)} batches became visible", err=True)
        raise typer.Exit(1)
    ms = [v * 1000 for v in line.latencies]
    p50, p90, p99 = (percentile(ms, q) for q in (0.5, 0.9, 0.99))
    typer.echo(f"cores {_cores()}; appended {sent} events in {elapsed:.1f} s = {sent / elapsed:,.0f} "
               f"events/s; {line.scrapes} scrapes ({line.scrapes / elapsed:.1f}/s)")
    typer.echo(f"append -> visible on /metrics: p50 {p50:.0f} ms, p90 {p90:.0f} ms, p99 {p99:.0f} ms, "
               f"max {max(ms):.0f} ms over {len(ms)} batches; goal p99 <= 1000 ms: "
               f"{'met' if p99 <= 1000 else 'NOT met'}")


def _cores() -> str:
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} (load {load:.1f})"


def register(app: typer.Typer) -> None:
    """Adds `latency` to the `bench` group (creating the group when no other module has yet)."""
    for group in app.registered_groups:
        if group.name == "bench" and group.typer_instance is not None:
            group.typer_instance.command("latency")(bench_latency)
            return
    bench = typer.Typer(help="benchmarks", no_args_is_help=True)
    bench.command("latency")(bench_latency)
    app.add_typer(bench, name="bench")


if __name__ == "__main__":
    typer.run(bench_latency)
