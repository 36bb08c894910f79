"""The demo's process supervisor with real child processes: readiness, failure, and nothing left behind."""

from __future__ import annotations

import socket
import sys
import textwrap
from pathlib import Path

import psutil
import pytest

from services.settings import Settings
from services.supervisor import Component, ComponentFailed, Supervisor, resolve

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def script(tmp_path: Path, name: str, body: str) -> list[str]:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return [PY, str(path)]


def logged(tmp_path: Path, name: str) -> bool:
    return (tmp_path / "logs" / f"{name}.log").read_text(encoding="utf-8").startswith("ready")


def family(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def gone(processes: list[psutil.Process]) -> bool:
    return all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in processes)


def test_ready_on_a_port_and_everything_stopped_with_grandchildren(tmp_path: Path) -> None:
    port = free_port()
    server = Component("web", [PY, "-m", "http.server", str(port), "--bind", "127.0.0.1"], ready=port)
    spawner = Component("spawner", script(tmp_path, "spawn.py", """
        import subprocess, sys, time
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("ready", flush=True)
        time.sleep(600)
    """), ready=lambda: logged(tmp_path, "spawner"), env={"CHILD_MARK": "1"})
    with Supervisor(tmp_path / "logs") as sup:
        started = sup.start_all([server, spawner])
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass
        tree = [p for r in started for p in family(r.process.pid)]
        assert len(tree) >= 3
    assert gone(tree)
    assert (tmp_path / "logs" / "web.log").exists()


def test_a_child_that_exits_before_ready_is_named_with_its_log(tmp_path: Path) -> None:
    crash = Component("crash", script(tmp_path, "crash.py", """
        import sys
        print("cannot open the store", file=sys.stderr)
        sys.exit(3)
    """), ready=free_port())
    with Supervisor(tmp_path / "logs") as sup, pytest.raises(ComponentFailed) as caught:
        sup.start(crash)
    assert "crash exited with code 3" in str(caught.value)
    assert "cannot open the store" in str(caught.value)


def test_a_child_ignoring_sigterm_is_killed_after_the_timeout(tmp_path: Path) -> None:
    stubborn = Component("stubborn", script(tmp_path, "stubborn.py", """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("ready", flush=True)
        time.sleep(600)
    """), ready=lambda: logged(tmp_path, "stubborn"))
    sup = Supervisor(tmp_path / "logs", stop_timeout=0.5)
    running = sup.start(stubborn)
    tree = family(running.process.pid)
    sup.stop_all()
    assert gone(tree)
    assert running.process.returncode is not None and running.process.returncode < 0


def test_providers_resolve_to_named_components() -> None:
    components = resolve(("services.ui_command:demo_components",), Settings(db="sqlite:///demo.db"))
    assert [c.name for c in components] == ["ui"]
    with pytest.raises(ComponentFailed, match="two components named ui"):
        resolve(("services.ui_command:demo_components",) * 2, Settings())
