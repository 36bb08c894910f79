"""Shared pieces of the pipeline tests: seeded event histories, sizes, and bundle comparison.

`history(seed, n)` builds a mixed, valid history through the real codec (tests/unit builders):
placements started / repriced / corrected / ended in purchased and own units, unit capacity,
aktualiseringar, utredningar opened and closed, budget, ledger postings, forecast overrides, EKB
statuses, workload and retractions of earlier events, with back-registered recorded_at times.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from events import Event
from projections import bundle
from services.kafka.producer import message_of
from services.readmodel.source import applied_totals
from services.readmodel.tables import PROJECTIONS
from tests.unit import builders as b
from tests.unit import event_builders_economy as e

SCALE = os.environ.get("CASESTREAM_TEST_SCALE", "small")
EVENTS_PER_RUN = {"small": 2500, "medium": 10_000, "large": 50_000}.get(SCALE, 2500)
START = date(2021, 1, 1)
ROOT = Path(__file__).resolve().parents[2]


def _eid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def history(seed: int, n: int = EVENTS_PER_RUN) -> list[Event]:
    """About `n` valid events, deterministic for a seed."""
    rng = random.Random(seed)
    out: list[Event] = [
        e.budget_set(2021, 90_000_000, category="institution", target_group="children", event_id=_eid(rng))
    ]
    out += [b.unit_capacity_set(f"unit-{u}", START, rng.randint(4, 12), event_id=_eid(rng)) for u in range(3)]
    open_placements: list[str] = []
    open_inv: list[tuple[str, str]] = []
    while len(out) < n:
        day = START + timedelta(days=rng.randint(0, 360))
        late = day + timedelta(days=rng.choice([0, 0, 0, 3, 40]))
        kind = rng.random()
        kw: dict[str, Any] = {"recorded_at": late, "event_id": _eid(rng)}
        if kind < 0.25 or not open_placements:
            pid = f"placement:s{seed}-{len(out)}"
            unit = rng.choice([None, None, "unit-0", "unit-1"])
            out.append(
                b.placement_started(
                    pid,
                    day,
                    person=f"pers-{rng.randint(1, 400):04d}",
                    unit_id=unit,
                    regime="own" if unit else "purchased",
                    category=rng.choice(["institution", "family_home_external"]),
                    price=rng.randint(1500, 6000),
                    **kw,
                )
            )
            open_placements.append(pid)
        elif kind < 0.35:
            out.append(b.placement_repriced(rng.choice(open_placements), day, rng.randint(1500, 6000), **kw))
        elif kind < 0.45:
            out.append(
                b.placement_ended(
                    open_placements.pop(rng.randrange(len(open_placements))), day + timedelta(days=30), **kw
                )
            )
        elif kind < 0.48:
            out.append(
                b.placement_corrected(
                    rng.choice(open_placements), day, price=rng.randint(1000, 3000), price_unit="day", **kw
                )
            )
        elif kind < 0.65:
            out.append(
                e.case_actualised(
                    f"case:s{seed}-{len(out)}",
                    day,
                    person=f"pers-{rng.randint(1, 400):04d}",
                    channel=rng.choice(["report", "application"]),
                    **kw,
                )
            )
        elif kind < 0.75:
            inv = (f"case:i{seed}-{len(out)}", f"inv-{len(out)}")
            out.append(e.investigation_opened(*inv, day, person=f"pers-{rng.randint(1, 400):04d}", **kw))
            open_inv.append(inv)
        elif kind < 0.82 and open_inv:
            out.append(
                e.investigation_closed(*open_inv.pop(0), day + timedelta(days=rng.randint(5, 150)), **kw)
            )
        elif kind < 0.88:
            out.append(
                e.ledger_posted(
                    2021,
                    day.month,
                    rng.randint(10_000, 900_000),
                    category="institution",
                    target_group="children",
                    **kw,
                )
            )
        elif kind < 0.92:
            out.append(
                e.ekb_status(
                    f"pers-{rng.randint(1, 60):04d}",
                    day,
                    rng.choice(["asylum_seeker", "municipality_placed", "ended"]),
                    **kw,
                )
            )
        elif kind < 0.95:
            out.append(e.workload_measured("barn", day, rng.randint(1, 52), rng.randint(60, 130), **kw))
        else:
            target = rng.choice(out[4:]) if len(out) > 4 else out[0]
            if target.type != "event.retracted":
                out.append(b.retracted(target, late, **kw))
    return out


@dataclass
class Record:
    """A consumed message as the projector sees it (the fields of aiokafka's ConsumerRecord it reads)."""

    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]]


def records_of(events: Iterable[Event], partitions: int = 6) -> dict[int, list[Record]]:
    """The relay's messages of stored events, split over partitions by stream like the topic."""
    out: dict[int, list[Record]] = {p: [] for p in range(partitions)}
    for event in events:
        key, value, headers = message_of(event)
        p = zlib.crc32(key) % partitions
        out[p].append(Record(p, len(out[p]), value, headers))
    return out


def assert_same_bundle(live: bundle.State, folded: bundle.State) -> None:
    """Every projection state equal (facts, counters, retractions), and the same events/position."""
    for name in PROJECTIONS:
        assert getattr(live, name) == getattr(folded, name), f"projection {name} differs from the fold"
    assert (live.events, live.last_position) == (folded.events, folded.last_position)


# --- processes and waiting ------------------------------------------------------------------------------

PY = sys.executable


@dataclass
class Proc:
    """A pipeline process a test started (`python -m services.kafka relay`, `python -m services.worker`)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        return self

    def kill9(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()


@dataclass
class Pipeline:
    """Store + read model files, the broker address and the processes of one test."""

    tmp: Path
    bootstrap: str
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.tmp}/store.db"

    @property
    def readmodel_url(self) -> str:
        return f"sqlite:///{self.tmp}/readmodel.db"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "CASESTREAM_DB": self.store_url,
            "CASESTREAM_READMODEL_DB": self.readmodel_url,
            "PYTHONPATH": str(ROOT),
            **self.extra_env,
        }

    def relay(self, *extra: str) -> Proc:
        return self._proc(
            "relay", [PY, "-m", "services.kafka", "relay", "--bootstrap", self.bootstrap, *extra]
        )

    def worker(self, n: int = 0, *extra: str) -> Proc:
        argv = [PY, "-m", "services.worker", "--bootstrap", self.bootstrap, "--web-port", "0"]
        return self._proc(f"worker{n}", [*argv, "--loglevel", "info", *extra])

    def _proc(self, name: str, argv: list[str]) -> Proc:
        proc = Proc(name, argv, self.env(), self.tmp / f"{name}.log").start()
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log.name}\n" + p.log.read_text(errors="replace")[-3000:] for p in self.procs
        )


def wait_for(
    predicate: Callable[[], bool], timeout: float, what: str, pipeline: Pipeline | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what}\n" + (pipeline.logs() if pipeline else "")
    )


def caught_up(engine: Engine, head: int) -> Callable[[], bool]:
    """True once every event up to `head` is applied on some partition (all partitions' maxima)."""

    def check() -> bool:
        return applied_totals(engine)[0] >= head and applied_totals(engine)[1] >= head

    return check
