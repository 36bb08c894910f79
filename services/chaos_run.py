"""One run of `casestream chaos`: a fresh store, broker + relay + workers, batches with faults in between.

The run starts the embedded broker, the relay and `workers` Faust workers through the supervisor on free
127.0.0.1 ports, appends the simulated events in batches and, at the batch boundaries the seeded
schedule picks, injects a fault: kill -9 of the relay (restarted), kill -9 of a worker (restarted),
broker stop and start on the same port (it comes back empty; the relay refills it from the store), or
on SQLite a disk-full append of the next batch (refused as a whole, then appended once the limit is
lifted). At the end it waits until the read model has applied the store head and compares
(`services.chaos_check`). Every process is stopped when the run ends, also on error.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from events import Event
from services.bootstrap import open_event_store
from services.chaos_check import Comparison, compare, history_period
from services.chaos_faults import (
    BROKER_RESTART,
    DISK_FULL,
    POSTGRES_RESTART,
    RELAY_KILL,
    WORKER_KILL,
    disk_full_append,
    kill9,
    restart,
    revive,
    schedule,
    stop,
)
from services.kafka.broker import broker_argv, free_port
from services.kafka.cli import module_argv
from services.readmodel.persist import open_readmodel, readmodel_url
from services.readmodel.source import applied_totals
from services.settings import Settings
from services.store.base import EventStore
from services.supervisor import Component, Supervisor

# Small batches, so the faults land inside the stream rather than between two big batches.
PIPELINE_ENV = {"CASESTREAM_WORKER_BATCH_MAX": "150", "CASESTREAM_RELAY_BATCH_SIZE": "200"}


@dataclass
class RunResult:
    run: int
    faults: Counter[str] = field(default_factory=Counter)
    disk_full_unclean: list[str] = field(default_factory=list)  # refusals that were not a StoreError
    partial_batches: int = 0  # disk-full appends that left part of the batch stored
    crashed: Counter[str] = field(default_factory=Counter)  # components that exited by themselves
    comparison: Comparison | None = None
    seconds: float = 0.0


@dataclass
class RunPlan:
    run: int
    store_url: str
    workers: int
    batch: int
    per_kind: int
    seed: int
    catch_up_timeout: float = 180.0
    restart_postgres: Callable[[], None] | None = None  # only for a server the campaign started itself


class ChaosRun:
    def __init__(self, plan: RunPlan, events: Sequence[Event], logs: Path, settings: Settings) -> None:
        self.plan, self.events, self.logs = plan, events, logs
        self.settings = settings.model_copy(update={"db": plan.store_url, "readmodel_db": None})
        self.port = free_port()
        self.result = RunResult(plan.run)
        self.crashed = self.result.crashed

    def components(self) -> dict[str, Component]:
        common = ["--bootstrap", f"127.0.0.1:{self.port}", "--db", self.plan.store_url]
        relay = [*module_argv("services.kafka"), "relay", *common]
        out = {"broker": Component("broker", broker_argv(self.port), ready=self.port, ready_timeout=15),
               "relay": Component("relay", relay, env=PIPELINE_ENV)}
        for i in range(self.plan.workers):
            web = free_port()
            argv = [*module_argv("services.worker"), *common, "--web-port", str(web), "--loglevel", "info"]
            out[f"worker{i}"] = Component(f"worker{i}", argv, ready=web, env=PIPELINE_ENV, ready_timeout=90)
        return out

    def kinds(self) -> list[str]:
        kinds = [RELAY_KILL, WORKER_KILL, BROKER_RESTART]
        if self.plan.restart_postgres is not None:
            kinds.append(POSTGRES_RESTART)
        return [*kinds, DISK_FULL] if self.plan.store_url.startswith("sqlite") else kinds

    def execute(self) -> RunResult:
        began = time.monotonic()
        store = open_event_store(Settings(db=self.plan.store_url))  # the production write path (sealing)
        try:
            with Supervisor(self.logs, base_env=None) as supervisor:
                self._feed(store, supervisor)
                self.result.comparison = self._finish(store)
        finally:
            store.close()
        self.result.seconds = time.monotonic() - began
        return self.result

    def _feed(self, store: EventStore, supervisor: Supervisor) -> None:
        comps = self.components()
        supervisor.start_all(comps.values())
        rng = random.Random(self.plan.seed)
        batches = [self.events[i : i + self.plan.batch] for i in range(0, len(self.events), self.plan.batch)]
        plan = schedule(rng, len(batches), self.kinds(), self.plan.per_kind)
        for index, batch in enumerate(batches):
            disk_full = False
            for kind in plan.get(index, []):
                if kind == DISK_FULL:
                    disk_full = True
                else:
                    self._inject(kind, supervisor, comps, rng)
            if disk_full:
                self._disk_full(store, batch)
            store.append(batch)
            time.sleep(rng.uniform(0.05, 0.4))
            self.crashed.update(revive(supervisor, comps))
        self._wait(store, supervisor, comps)

    def _inject(
        self, kind: str, supervisor: Supervisor, comps: dict[str, Component], rng: random.Random
    ) -> None:
        if kind == RELAY_KILL:
            kill9(supervisor, "relay")
            restart(supervisor, comps["relay"])
        elif kind == WORKER_KILL:
            name = f"worker{rng.randrange(self.plan.workers)}"
            kill9(supervisor, name)
            restart(supervisor, comps[name])
        elif kind == BROKER_RESTART:
            stop(supervisor, "broker")
            time.sleep(rng.uniform(0.5, 2.0))
            restart(supervisor, comps["broker"])  # same port, empty
        elif kind == POSTGRES_RESTART and self.plan.restart_postgres is not None:
            self.plan.restart_postgres()
        self.result.faults[kind] += 1

    def _disk_full(self, store: EventStore, batch: Sequence[Event]) -> None:
        outcome = disk_full_append(self.plan.store_url.removeprefix("sqlite:///"), store, batch)
        self.result.faults[DISK_FULL] += 1
        if not outcome.store_error:
            self.result.disk_full_unclean.append(outcome.error or "no error (the append went through)")
        if 0 < outcome.stored < len(batch):
            self.result.partial_batches += 1

    def _wait(self, store: EventStore, supervisor: Supervisor, comps: dict[str, Component]) -> None:
        """Until the read model has applied the store head (or the timeout), reviving crashed components."""
        engine = open_readmodel(readmodel_url(self.settings))
        try:
            head = store.head()
            deadline = time.monotonic() + self.plan.catch_up_timeout
            while time.monotonic() < deadline:
                applied, top = applied_totals(engine)
                if applied >= head and top >= head:
                    return
                time.sleep(0.3)
                self.crashed.update(revive(supervisor, comps))
        finally:
            engine.dispose()

    def _finish(self, store: EventStore) -> Comparison:
        engine = open_readmodel(readmodel_url(self.settings))
        try:
            days = [e.business_date for e in self.events]
            return compare(store, engine, self.settings, history_period(min(days), max(days)))
        finally:
            engine.dispose()
