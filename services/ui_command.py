"""`casestream ui`: run the Streamlit front end (ui/app.py) on 127.0.0.1, headless.

The UI reads the store named by `--db` / `CASESTREAM_DB` (passed to Streamlit's process through the
environment). `demo_components(settings)` gives the same command line to the demo supervisor.
With sign-in on (`CASESTREAM_AUTH_ENABLED`), the `[auth]` secrets are written into a private folder
and Streamlit is pointed at that file with `--secrets.files` (`services.access_auth`); the folder is
removed when Streamlit exits.
Importing this module starts nothing; the UI package itself is not imported here (services never
import ui), only located on disk.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from services import access_auth
from services.settings import Settings


def app_path() -> Path:
    """ui/app.py of the installed (or checked-out) project, found without importing the ui package."""
    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the ui package is not installed next to services")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def ui_argv(settings: Settings, port: int | None = None, host: str | None = None,
            secrets_file: Path | None = None) -> list[str]:
    """`python -m streamlit run ui/app.py` on the settings' host and port, headless, no telemetry; with
    `secrets_file`, Streamlit reads its secrets (the sign-in's `[auth]`) from that file only."""
    argv = [sys.executable, "-m", "streamlit", "run", str(app_path()),
            "--server.address", host or settings.ui_host,
            "--server.port", str(settings.ui_port if port is None else port),
            "--server.headless", "true", "--browser.gatherUsageStats", "false",
            "--global.developmentMode", "false", "--client.toolbarMode", "viewer"]
    if secrets_file is not None:
        argv += ["--secrets.files", str(secrets_file)]
    return argv


def ui_overrides(settings: Settings) -> dict[str, str]:
    """What the UI process must see besides the inherited environment: its store and threshold."""
    return {"CASESTREAM_DB": settings.db,
            "CASESTREAM_SMALL_CELL_THRESHOLD": str(settings.small_cell_threshold)}


def ui_env(settings: Settings) -> dict[str, str]:
    """The environment of the UI process: this one's, plus the store URL and the small-cell threshold."""
    return {**os.environ, **ui_overrides(settings)}


def sqlite_file_missing(url: str) -> Path | None:
    """The SQLite file a URL names when it does not exist (the UI reads a store, it never creates one)."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    return None if path.exists() else path


def demo_components(settings: Settings) -> list[Any]:
    """The UI as a component of the demo supervisor (`services.supervisor.Component`): ready when its
    port accepts connections, shown to the user at its URL."""
    argv = ui_argv(settings, secrets_file=access_auth.secrets_for_process(
        settings, settings.ui_host, settings.ui_port))
    try:
        from services.supervisor import Component
    except ImportError:  # no supervisor in this tree: a (name, argv) pair
        return [("ui", argv)]
    return [Component(name="ui", argv=argv, ready=settings.ui_port, env=ui_overrides(settings),
                      url=f"http://{settings.ui_host}:{settings.ui_port}/", ready_timeout=90.0)]


def run_streamlit(argv: list[str], env: dict[str, str]) -> int:
    """Run Streamlit until it exits. Ctrl-C or SIGTERM stop it (passed on to it by its process id) and
    return 0, so the caller's cleanup (the secrets folder) runs either way."""
    proc = subprocess.Popen(argv, env=env)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)


def ui(
    db: Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="store URL")] = None,
    port: Annotated[int | None, typer.Option(help="port (default: settings ui_port, 8501)")] = None,
    host: Annotated[str | None, typer.Option(help="address to listen on (default 127.0.0.1)")] = None,
) -> None:
    """Run the Streamlit UI (Översikt, Externa köp, Beläggning, Aktualiseringar, Prognos) until stopped."""
    settings = Settings() if db is None else Settings(db=db)
    missing = sqlite_file_missing(settings.db)
    if missing is not None:
        raise typer.BadParameter(f"no event store at {missing} (--db / CASESTREAM_DB {settings.db!r}); "
                                 "fill one first: casestream simulate --db … or casestream ingest …")
    try:
        access_auth.check(settings)
    except access_auth.AuthConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    where_host, where_port = host or settings.ui_host, settings.ui_port if port is None else port
    folder = access_auth.private_folder() if settings.auth_enabled else None
    try:
        secrets = None if folder is None else access_auth.write_secrets(
            settings, folder, where_host, where_port)
        argv = ui_argv(settings, port, host, secrets)
        sign_in = "sign-in on" if settings.auth_enabled else "inloggning avstängd"
        typer.echo(f"UI on http://{where_host}:{where_port}/ ({sign_in})")
        code = run_streamlit(argv, ui_env(settings))
    finally:
        if folder is not None:
            access_auth.remove(folder)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command(name="ui")(ui)
