"""The faults of `casestream chaos`: the seeded schedule, kill -9 / stop of a supervised process, disk full.

A schedule puts each applicable fault kind `per_kind` times at random batch boundaries (seeded, so a
seed replays the same campaign). `kill9` and `stop` act on one component of a `Supervisor` and drop it
from the supervisor's list, so it can be started again under the same name. `disk_full_append` appends
one batch to the SQLite store through a dedicated connection whose `max_page_count` is pinned to the
file's current size: the append must be refused as a whole (a `StoreError`, nothing of the batch stored).
`revive` restarts components that exited by themselves, whose ready port stopped answering, or whose
log shows a Faust crash of that very process (a worker gives up when the broker goes away and can then
hang for a minute in its own shutdown), as a service manager with a liveness probe would; the campaign
counts those restarts.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from events import Event
from services.store.base import EventStore, StoreError
from services.supervisor import Component, ComponentFailed, Running, Supervisor, port_open

RELAY_KILL: Final = "relay_kill9"
WORKER_KILL: Final = "worker_kill9"
BROKER_RESTART: Final = "broker_restart"
POSTGRES_RESTART: Final = "postgres_restart"
DISK_FULL: Final = "disk_full"
FAULT_KINDS: Final = (RELAY_KILL, WORKER_KILL, BROKER_RESTART, POSTGRES_RESTART, DISK_FULL)


def schedule(rng: random.Random, batches: int, kinds: Sequence[str], per_kind: int) -> dict[int, list[str]]:
    """{batch index: faults injected before that batch}; never before the first batch."""
    out: dict[int, list[str]] = {}
    for kind in kinds:
        for _ in range(per_kind):
            out.setdefault(rng.randint(1, max(1, batches - 1)), []).append(kind)
    for faults in out.values():
        rng.shuffle(faults)
    return out


def find(supervisor: Supervisor, name: str) -> Running:
    for running in supervisor.running:
        if running.component.name == name:
            return running
    raise KeyError(f"no running component named {name!r}")


def kill9(supervisor: Supervisor, name: str) -> None:
    """SIGKILL the component's process group (no clean-up at all) and forget it."""
    running = find(supervisor, name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(running.process.pid, signal.SIGKILL)
    running.process.wait(10)
    supervisor.running.remove(running)


def stop(supervisor: Supervisor, name: str, timeout: float = 5.0) -> None:
    """SIGTERM the component (SIGKILL after `timeout`) and forget it."""
    running = find(supervisor, name)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(running.process.pid, signal.SIGTERM)
    try:
        running.process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.process.pid, signal.SIGKILL)
        running.process.wait(10)
    supervisor.running.remove(running)


def restart(supervisor: Supervisor, component: Component) -> bool:
    """Start `component` again; False (and forgotten) when it exited before it was ready."""
    try:
        supervisor.start(component)
        return True
    except ComponentFailed:
        for running in [r for r in supervisor.running if r.component.name == component.name]:
            if running.process.poll() is None:
                kill9(supervisor, component.name)
            else:
                supervisor.running.remove(running)
        return False


def crashed_in_log(running: Running, tail: int = 65_536) -> bool:
    """The end of the component's log has a Faust crash line of this very process ("[pid] ... Crashed")."""
    marker = f"] [{running.process.pid}] [".encode()
    try:
        with running.log.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - tail))
            text = log.read()
    except OSError:
        return False
    return any(marker in line and b"Crashed reason=" in line for line in text.splitlines())


def healthy(running: Running) -> bool:
    """Running, not crashed by its own log, and its ready port (if any) still answers (a liveness probe)."""
    if running.process.poll() is not None or crashed_in_log(running):
        return False
    port = running.component.ready
    if not isinstance(port, int) or port_open(port):
        return True
    time.sleep(1.0)
    return running.process.poll() is None and port_open(port)


def revive(supervisor: Supervisor, components: dict[str, Component]) -> list[str]:
    """Restart every component that exited by itself or stopped answering, as a service manager would."""
    sick = [r for r in supervisor.running if not healthy(r)]
    for running in sick:
        if running.process.poll() is None:
            kill9(supervisor, running.component.name)  # hangs in its own shutdown: finish it
        else:
            supervisor.running.remove(running)  # exited on its own, reaped by poll()
    present = {r.component.name for r in supervisor.running}
    return [name for name, c in components.items() if name not in present and restart(supervisor, c)]


@dataclass
class DiskFullOutcome:
    """What one append against a full disk did: the error it raised and how much of the batch landed."""

    error: str  # the exception class ("" = the append succeeded, which is a failure of the fault)
    store_error: bool  # the error is the store's own StoreError (a clear refusal)
    stored: int  # events of the batch found in the store afterwards (must be 0)


def _pin_page_count(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    pages = cursor.execute("PRAGMA page_count").fetchone()[0]
    cursor.execute(f"PRAGMA max_page_count={int(pages)}")
    cursor.close()


def disk_full_append(path: str, store: EventStore, batch: Sequence[Event]) -> DiskFullOutcome:
    """Append `batch` through a connection that cannot grow the SQLite file; count what landed."""
    from services.store.engines import sqlite_engine
    from services.store.sql import SqlStore
    from services.store.tables import events_table

    engine = sqlite_engine(path)
    sa_event.listen(engine, "connect", _pin_page_count)
    error, store_error = "", False
    try:
        SqlStore(engine).append(batch)
    except StoreError as exc:
        error, store_error = type(exc).__name__, True
    except Exception as exc:
        error = type(exc).__name__
    finally:
        engine.dispose()
    ids = [e.event_id for e in batch]
    backend: Any = getattr(store, "inner", store)  # the SQL store behind the sealing write path
    with backend.engine.connect() as conn:
        stored = conn.execute(
            select(func.count()).select_from(events_table).where(events_table.c.event_id.in_(ids))
        ).scalar_one()
    return DiskFullOutcome(error, store_error, int(stored))
