"""WAL checkpoints off the writer's path: a thread of the writing process checkpoints a SQLite read model.

SQLite's automatic checkpoint runs inside the commit that crosses the limit: the committing process
copies the WAL's pages into the database file and syncs it before the commit returns. In
`bench pipeline` that was ~1.8 µs of every event's commit on average (200 000 bench rows: 2.2 µs per
row committed with the automatic checkpoint every ~80 MiB, 0.4 µs without). The helper that writes
the worker's batches (`services.worker.writer`) therefore turns the automatic checkpoint off for its
own connections and checkpoints from a thread of its own once a second (PASSIVE: it never blocks the
writer or a reader; the sqlite3 driver releases the GIL for it, so the helper's Python runs on).
Durability is unchanged — a WAL commit is durable (against a process kill) when it returns, whether
or not its pages were copied yet; other connections keep the automatic checkpoint, so the WAL stays
bounded if this thread stops. PostgreSQL needs none of this.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger("casestream.readmodel")
INTERVAL_S: Final = 1.0


def _no_autocheckpoint(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA wal_autocheckpoint=0")
    cur.close()


def checkpoint_in_background(engine: Engine, interval: float = INTERVAL_S) -> threading.Event | None:
    """For a SQLite engine: commits no longer checkpoint, a daemon thread does every `interval` s.
    Returns the event that stops the thread (None for other databases)."""
    if engine.dialect.name != "sqlite":
        return None
    event.listen(engine, "connect", _no_autocheckpoint)
    engine.dispose()  # connections made before the listener are replaced
    stop = threading.Event()
    threading.Thread(target=_run, args=(engine, stop, interval), daemon=True, name="wal-checkpoint").start()
    return stop


def _run(engine: Engine, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)").all()
        except Exception as exc:  # a busy or vanished file: the next round tries again
            log.info("WAL checkpoint skipped: %r", exc)
