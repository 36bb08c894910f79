"""`casestream demo` end to end in a fresh working directory: history, report tables, live events, stop.

CASESTREAM_TEST_SCALE=small shrinks the history to one simulated month (CONVENTIONS §9). The first
run stops itself after 5 s of live events; the second reuses the store and is stopped by SIGTERM.
Both must exit 0 and leave no process of theirs running.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from services.store import open_store

CASESTREAM = str(Path(sys.executable).parent / "casestream")
HISTORY = re.compile(r"Historik: (\d+) nya händelser, (\d+) fanns redan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    """A clean environment; the demo's components (broker, relay, worker, exporter, UI) on free ports."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM_")}
    out.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    out.update(CASESTREAM_TEST_SCALE="small", COLUMNS="250")
    for name in ("UI_PORT", "EXPORTER_PORT", "WORKER_WEB_PORT", "WORKER_METRICS_PORT"):
        out[f"CASESTREAM_{name}"] = str(free_port())
    return out


def watch(process: subprocess.Popen[str], until: float) -> set[psutil.Process]:
    """Every descendant seen while the demo runs (until it exits or the deadline)."""
    seen: set[psutil.Process] = set()
    while process.poll() is None and time.monotonic() < until:
        try:
            seen.update(psutil.Process(process.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    return seen


def head(workdir: Path) -> int:
    store = open_store(f"sqlite:///{workdir / 'var' / 'demo' / 'store.db'}")
    try:
        return store.head()
    finally:
        store.close()


def assert_nothing_left(seen: set[psutil.Process]) -> None:
    alive = [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive


def test_demo_runs_headless_then_reuses_its_store_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "first.log"
    with log.open("w") as out:  # a file, not a pipe: nothing can block on a full pipe while we watch
        first = subprocess.Popen([CASESTREAM, "demo", "--duration", "5", "--years", "1", "--rate", "20"],
                                 cwd=tmp_path, env=env(), stdout=out, stderr=subprocess.STDOUT, text=True)
        seen = watch(first, time.monotonic() + 240)
        first.wait(timeout=60)
    output = log.read_text(encoding="utf-8")
    assert first.returncode == 0, output
    assert "Extern vård och behandling per verksamhet" in output and "Beläggningsgrad" in output
    assert "Samtliga egna boenden" in output
    found = HISTORY.search(output)
    assert found is not None, output
    history = int(found.group(1))
    assert history > 1000
    after_first = head(tmp_path)
    assert after_first > history  # the live events went in too
    assert_nothing_left(seen)

    second = subprocess.Popen([CASESTREAM, "demo", "--years", "1", "--rate", "20"], cwd=tmp_path, env=env(),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert second.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = second.stdout.readline()
        lines.append(line)
        if not line or line.startswith("Live:"):
            break
    time.sleep(1.5)
    seen = {*psutil.Process(second.pid).children(recursive=True)}
    second.send_signal(signal.SIGTERM)
    try:
        rest, _ = second.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # where it hangs: every thread's stack (the demo's SIGUSR1)
        masks = _signal_masks(second.pid)
        second.send_signal(signal.SIGUSR1)
        time.sleep(2)
        children = []
        for p in seen:
            with contextlib.suppress(psutil.Error):
                children.append((p.pid, p.name(), p.status()))
                p.kill()
        second.kill()
        rest, _ = second.communicate(timeout=30)
        pytest.fail(f"the demo did not stop within 60 s of SIGTERM ({masks}); its processes: {children}\n"
                    + "".join(lines) + rest)
    output = "".join(lines) + rest
    assert second.returncode == 0, output
    found = HISTORY.search(output)
    assert found is not None, output
    new, existing = int(found.group(1)), int(found.group(2))
    assert existing >= history and new < 100  # nothing duplicated: only what was registered meanwhile
    assert head(tmp_path) > after_first
    assert_nothing_left(seen)


def _signal_masks(pid: int) -> str:
    """The process's pending, blocked, ignored and caught signals (hex masks), as /proc shows them."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        return f"no /proc status: {exc}"
    return ", ".join(line.replace("\t", " ") for line in status.splitlines()
                     if line.startswith(("SigPnd", "ShdPnd", "SigBlk", "SigIgn", "SigCgt")))
