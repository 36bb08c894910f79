"""A scratch database for one chaos run on a PostgreSQL server: created empty, dropped afterwards.

The campaign never writes into the database `--db` names; it connects there only to run
`CREATE DATABASE` / `DROP DATABASE` (with FORCE, so connections a killed process left are closed),
each on a new connection (no pool), since the server may have been restarted in between.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool


def _engine_url(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


@contextmanager
def scratch_database(url: str, name: str) -> Iterator[str]:
    """Yield the URL of a new, empty database `name` on the server of `url`; drop it on exit."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise ValueError(f"unsafe database name {name!r}")
    admin = create_engine(_engine_url(url), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(_engine_url(url)).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
