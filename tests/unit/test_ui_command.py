"""`casestream ui` and the UI's import boundaries: what the command runs, and what ui/ may import."""

from __future__ import annotations

import ast
from pathlib import Path

import typer
from typer.testing import CliRunner

from services import ui_command
from services.commands import COMMAND_MODULES
from services.settings import Settings
from services.supervisor import Component

UI = Path(__file__).resolve().parents[2] / "ui"
FORBIDDEN = ("faust", "kafka", "aiokafka", "sqlalchemy", "sqlmodel", "services.store", "services.ingest",
             "services.kafka", "services.worker", "prometheus_client")


def test_the_command_runs_streamlit_headless_on_loopback() -> None:
    argv = ui_command.ui_argv(Settings(db="sqlite:///x.db"), port=8765)
    assert argv[1:4] == ["-m", "streamlit", "run"]
    assert Path(argv[4]) == UI / "app.py"
    flags = dict(zip(argv[5::2], argv[6::2], strict=True))
    assert flags["--server.address"] == "127.0.0.1"
    assert flags["--server.port"] == "8765"
    assert flags["--server.headless"] == "true"
    env = ui_command.ui_env(Settings(db="sqlite:///x.db", small_cell_threshold=3))
    assert env["CASESTREAM_DB"] == "sqlite:///x.db" and env["CASESTREAM_SMALL_CELL_THRESHOLD"] == "3"


def test_the_command_is_registered_and_documents_itself() -> None:
    assert "services.ui_command" in COMMAND_MODULES
    app = typer.Typer()
    ui_command.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `ui` a subcommand
    result = CliRunner().invoke(app, ["ui", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--db" in result.output


def test_demo_component_is_ready_on_the_ui_port() -> None:
    settings = Settings(db="sqlite:///demo.db", ui_port=8777)
    (component,) = ui_command.demo_components(settings)
    assert isinstance(component, Component)
    assert (component.name, list(component.argv)) == ("ui", ui_command.ui_argv(settings))
    assert component.ready == 8777 and component.url == "http://127.0.0.1:8777/"
    assert component.env["CASESTREAM_DB"] == "sqlite:///demo.db"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_ui_reads_through_services_queries_only() -> None:
    files = sorted(UI.rglob("*.py"))
    assert len(files) >= 9
    for path in files:
        for name in imported_modules(path):
            assert not any(name == f or name.startswith(f + ".") for f in FORBIDDEN), f"{path.name}: {name}"


def test_the_command_refuses_a_missing_sqlite_store(tmp_path: Path) -> None:
    app = typer.Typer()
    ui_command.register(app)
    app.command("noop")(lambda: None)
    missing = tmp_path / "nothing.db"
    result = CliRunner().invoke(app, ["ui", "--db", f"sqlite:///{missing}"])
    assert result.exit_code != 0 and "no event store at" in result.output
    assert not missing.exists()
