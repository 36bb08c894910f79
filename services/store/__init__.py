"""The event store: `open_store(url)` picks the back end from the URL.

* `memory://` — the in-memory fake (`services.store.memory`), for tests of the other layers;
* `sqlite:///path/to/file.db` — a SQLite file (the embedded default);
* `postgresql://…` or `postgresql+psycopg://…` — PostgreSQL (production).

All three share the contract of `services.store.base.EventStore` and the append rules of
`services.store.batch`. Opening a SQL store creates its tables when they are missing.
"""

from __future__ import annotations

from services.store.base import AppendResult, ConcurrencyError, EventStore, StoreError
from services.store.batch import Clock, utc_now

__all__ = ["AppendResult", "ConcurrencyError", "EventStore", "StoreError", "beside", "open_store"]


def beside(url: str, name: str) -> str | None:
    """The SQLite database named `name` beside a SQLite store: `x.db` -> `x.<name>.db` (None: not SQLite)."""
    if not url.startswith("sqlite:///"):
        return None
    return url[:-3] + f".{name}.db" if url.endswith(".db") else url + f".{name}"


def open_store(url: str, *, clock: Clock = utc_now, page_size: int = 5000) -> EventStore:
    """Open the store a URL names; `page_size` is the number of rows per query of `read_all`."""
    if url == "memory://" or url == "memory:":
        from services.store.memory import MemoryStore

        return MemoryStore(clock=clock)
    if url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        from sqlalchemy.exc import OperationalError

        from services.store.engines import postgres_engine, sqlite_engine
        from services.store.sql import SqlStore

        if url.startswith("sqlite"):
            engine = sqlite_engine(url.removeprefix("sqlite:///"))
        else:
            engine = postgres_engine(url)
        try:
            return SqlStore(engine, clock=clock, page_size=page_size)
        except OperationalError as exc:
            engine.dispose()
            shown = engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the store {shown}: {exc.orig}") from None
        except Exception:
            engine.dispose()
            raise
    raise StoreError(
        f"unknown store URL {url!r}: use memory://, sqlite:///path/to/file.db or postgresql://user@host/db"
    )
