"""How `casestream prepare-replay` runs (`services.audit.prepare_folder`, `prepare_cli`): one run at a
time on a memo folder, a killed run's leftovers removed by the next, and `--every` running again until
SIGTERM stops it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import pytest

from services.audit import prepare_folder
from services.audit.checkpoint import Checkpoints
from services.audit.prepare_folder import Busy, exclusive, sweep
from services.store import open_store
from services.store.sql import SqlStore
from tests.integration.test_audit_cli import cli, runner
from tests.integration.test_replay_checkpoint import agree
from tests.integration.test_replay_fast import history, store_of
from tests.integration.test_replay_prepared import kept, prepared

CASESTREAM = str(Path(sys.executable).parent / "casestream")


def test_one_run_at_a_time_on_a_memo_folder(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    with exclusive(memo):  # another run holds the folder
        with pytest.raises(Busy, match="another prepare-replay is running on"):
            prepared(url, memo)
        result = runner.invoke(cli(), ["prepare-replay", "--db", url],
                               env={"CASESTREAM_REPLAY_MEMO_DIR": str(memo)})
        assert result.exit_code == 1 and "another prepare-replay is running" in result.output
        assert kept(memo) == []  # nothing made beside it
    assert prepared(url, memo)[0].made > 0  # the lock went with the block
    with exclusive(memo):  # and can be taken again
        pass


def test_a_killed_runs_leftovers_are_removed_by_the_next(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    store = open_store(url)
    assert isinstance(store, SqlStore)
    try:
        folder = Checkpoints(memo, store).folder
    finally:
        store.close()
    hours_ago = time.time() - 2 * 3600
    dead_manifest, dead_new, live = (folder / ".prepare-dead.manifest", folder / ".new-dead",
                                     folder / ".prepare-live.manifest")
    dead_manifest.write_bytes(b"x" * 1000)
    dead_new.mkdir()
    (dead_new / "state").write_bytes(b"y")
    live.write_bytes(b"z")  # a run writing now
    for path in (dead_manifest, dead_new):
        os.utime(path, (hours_ago, hours_ago))
    prepared(url, memo)
    assert not dead_manifest.exists() and not dead_new.exists() and live.exists()
    assert agree(url, date(2021, 5, 20), tmp_path, memo)["checkpoint"] == 1
    live_at = live.stat().st_mtime
    assert sweep(folder, now=live_at + prepare_folder.STALE_AFTER - 1) == []
    assert sweep(folder, now=live_at + prepare_folder.STALE_AFTER + 1) == [live]


def _read_until(process: subprocess.Popen[str], lines: list[str], done: Callable[[], bool]) -> None:
    """Read the process's output lines into `lines` until `done()` (or its output ends, or 120 s)."""
    assert process.stdout is not None
    deadline = time.monotonic() + 120
    while not done() and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            return
        lines.append(line.rstrip("\n"))


def test_every_runs_again_after_a_failed_run_until_sigterm_stops_it(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(5, 0.1))
    memo = tmp_path / "memo"
    env = {**os.environ, "CASESTREAM_REPLAY_MEMO_DIR": str(memo), "CASESTREAM_VAR_DIR": str(tmp_path / "var")}
    every = 3 / 3600  # a run every 3 s: the signal comes in the sleep after the third
    held = ExitStack()
    held.enter_context(exclusive(memo))  # the first run finds the folder busy
    process = subprocess.Popen([CASESTREAM, "prepare-replay", "--db", url, "--municipality", "1880",
                                "--every", f"{every:.8f}"], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        _read_until(process, lines, lambda: any(line.startswith("this run failed") for line in lines))
        held.close()
        assert any("another prepare-replay is running" in line for line in lines), lines
        assert lines[-1].startswith("this run failed (exit 1); the next in 0.000833"), lines
        _read_until(process, lines, lambda: sum(line.startswith("1880: ") for line in lines) >= 2)
        runs = [line for line in lines if line.startswith("1880: ")]
        assert len(runs) == 2, lines
        assert " checkpoints made from the first event " in runs[0] and not runs[0].startswith("1880: 0 ")
        assert runs[1].startswith("1880: 0 checkpoints made from 2021-06-30"), runs  # went on, nothing new
        assert sum(line.startswith("prepare-replay run at ") for line in lines) == 3
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    finally:
        held.close()
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, lines + out.splitlines()
    assert out.rstrip().endswith("prepare-replay stopped"), out
    assert kept(memo, "1881") == [] and kept(memo) != []
