"""`casestream rebuild --metrics-port N` serves the rebuild's progress for Prometheus
(`casestream_rebuild_progress_ratio{projection}`), reaching 1 once the projection is switched over."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import typer
from typer.testing import CliRunner

from services.readmodel.cli import register
from services.store import open_store
from tests.integration.pipeline_kit import history


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_rebuild_progress_is_served_on_metrics(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/store.db")
    store.append(history(7, 300))
    store.close()
    port = free_port()
    app = typer.Typer()
    register(app)
    args = ["care_costs", "--db", f"sqlite:///{tmp_path}/store.db", "--metrics-port", str(port)]
    result = CliRunner().invoke(app, args)  # a one-command app: no command name
    assert result.exit_code == 0, result.output
    # The endpoint is a daemon thread of this (test) process: it still answers after the command.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        page = response.read().decode()
    assert 'casestream_rebuild_progress_ratio{projection="care_costs"} 1.0' in page
