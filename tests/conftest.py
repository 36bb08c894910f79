"""Shared fixtures: a real PostgreSQL server per test session (per xdist worker), fresh databases on it.

* `pg_server` (session) — starts Debian's PostgreSQL (`/usr/lib/postgresql/<v>/bin`) in a temporary
  directory, on 127.0.0.1 and a free port, with its socket in that directory; stopped at the end.
  CI runs as root and PostgreSQL refuses root, so initdb and pg_ctl run as the `postgres` OS user
  (`runuser -u postgres --`). Each xdist worker is its own session and so gets its own server.
* `pg_url` (session) — a `postgresql+psycopg://` URL of a fresh database on that server.
* `pg_fresh_url` (function) — a new, empty database for one test.

Databases are created and dropped with pytest-postgresql's `DatabaseJanitor`. Nothing is ever
skipped: a missing PostgreSQL is a failure that says how to install it (`make system-deps`).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_postgresql.janitor import DatabaseJanitor

PG_USER = "postgres"
_db_counter = itertools.count(1)


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        pytest.fail("PostgreSQL binaries not found in /usr/lib/postgresql/*/bin: run `make system-deps`")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], what: str) -> None:
    done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        pytest.fail(f"PostgreSQL {what} failed ({done.returncode}): {done.stdout}\n{done.stderr}")


def _start(bin_dir: Path, root: Path) -> int:
    """Start a server on a free port (retried: another worker may grab the same port first)."""
    data, log = root / "data", root / "server.log"
    for _attempt in range(5):
        port = _free_port()
        opts = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        cmd = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o", opts,
               "start"]
        if subprocess.run(_as_postgres(cmd), capture_output=True, timeout=90, check=False).returncode == 0:
            return port
    pytest.fail(f"PostgreSQL did not start; see {log}:\n{log.read_text() if log.exists() else ''}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server of this session (xdist: of this worker), stopped and removed at the end."""
    bin_dir = _pg_bin()
    root = Path(tempfile.mkdtemp(prefix="casestream-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER, PG_USER)
    try:
        _run([str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", PG_USER, "-A", "trust",
              "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], "initdb")
        port = _start(bin_dir, root)
        try:
            yield PgServer("127.0.0.1", port, PG_USER)
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(root / "data"), "-m", "fast", "-w", "stop"], "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def _database(server: PgServer, prefix: str) -> Iterator[str]:
    dbname = f"{prefix}_{os.getpid()}_{next(_db_counter)}"
    janitor = DatabaseJanitor(user=server.user, host=server.host, port=server.port, dbname=dbname)
    janitor.init()
    try:
        yield server.url(dbname)
    finally:
        janitor.drop()


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh database for the whole session (share it only between tests that tolerate each other)."""
    with _database(pg_server, "casestream_session") as url:
        yield url


@pytest.fixture
def pg_fresh_url(pg_server: PgServer) -> Iterator[str]:
    """A new, empty database for one test; dropped afterwards."""
    with _database(pg_server, "casestream_test") as url:
        yield url


@pytest.fixture(autouse=True, scope="session")
def _replay_memo_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`casestream replay` keeps a page memo under var/ by default: in tests, in a temporary folder
    (commands run in this process and in child processes alike read CASESTREAM_REPLAY_MEMO_DIR)."""
    before = os.environ.get("CASESTREAM_REPLAY_MEMO_DIR")
    os.environ["CASESTREAM_REPLAY_MEMO_DIR"] = str(tmp_path_factory.mktemp("replay-memo"))
    yield
    if before is None:
        os.environ.pop("CASESTREAM_REPLAY_MEMO_DIR", None)
    else:
        os.environ["CASESTREAM_REPLAY_MEMO_DIR"] = before
