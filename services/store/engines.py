"""SQLAlchemy engines for the two SQL back ends, configured for the store's locking rules.

SQLite: the driver's own transaction handling is switched off so the store decides how a
transaction begins: `BEGIN IMMEDIATE` for appends (the connection carries the execution option
`casestream_write`), which takes the write lock before the head is read, and a plain deferred
`BEGIN` for reads. WAL mode lets readers run beside the writer; `busy_timeout` makes a second
writer wait for the lock instead of failing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

from services.store.base import StoreError

BUSY_TIMEOUT_MS = 30_000


def sqlite_engine(path: str) -> Engine:
    """An engine on a SQLite file; the file is created when its directory exists."""
    if path in ("", ":memory:") or path.startswith("file:"):
        raise StoreError(f"sqlite URL needs a file path (got {path!r}); use memory:// for a throwaway store")
    directory = Path(path).expanduser().resolve().parent
    if not directory.is_dir():
        raise StoreError(f"cannot create the SQLite store {path}: directory {directory} does not exist")
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
    )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN by the driver; see _sqlite_begin
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    write = conn.get_execution_options().get("casestream_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def postgres_engine(url: str) -> Engine:
    """An engine on PostgreSQL through psycopg 3 (`postgresql://` is read as `postgresql+psycopg://`)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
