"""A throwaway PostgreSQL server of the chaos campaign (`--db postgresql`), which it may restart.

Debian's binaries (`/usr/lib/postgresql/<v>/bin`) run initdb and pg_ctl in a temporary directory on a
free 127.0.0.1 port, as the `postgres` OS user when the campaign runs as root (PostgreSQL refuses
root), exactly as the test fixture in tests/conftest.py does. `restart()` is the fault: an immediate
stop (no checkpoint, like a crash) and a start on the same port, so the server goes through crash
recovery. The campaign never restarts a server named by a URL: it is not the campaign's.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from services.kafka.broker import free_port

PG_USER = "postgres"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are missing or the server did not start (the message says which)."""


def pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if not found:
        raise PostgresUnavailable("PostgreSQL binaries not found in /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


class OwnPostgres:
    """initdb + pg_ctl in a temporary directory; a context manager that stops and removes it all."""

    def __init__(self) -> None:
        self.bin = pg_bin()
        self.root = Path(tempfile.mkdtemp(prefix="casestream-chaos-pg-"))
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str, what: str) -> None:
        cmd = [str(self.bin / "pg_ctl"), "-D", str(self.root / "data"), "-l", str(self.root / "server.log"),
               "-w", "-t", "60", *args]
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise PostgresUnavailable(f"PostgreSQL {what} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root} "
                "-c fsync=off -c full_page_writes=off -c max_connections=200")
        self._ctl("-o", opts, "start", what="start")

    def restart(self) -> None:
        """The fault: stop immediately (crash-like) and start again on the same port."""
        self._ctl("-m", "immediate", "stop", what="immediate stop")
        self.start()

    def __enter__(self) -> OwnPostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, PG_USER, PG_USER)
        initdb = [str(self.bin / "initdb"), "-D", str(self.root / "data"), "-U", PG_USER, "-A", "trust",
                  "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"]
        done = subprocess.run(_as_postgres(initdb), capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            raise PostgresUnavailable(f"initdb failed ({done.returncode}): {done.stderr.strip()}")
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._ctl("-m", "fast", "stop", what="stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
