"""A small process supervisor for the demo: start named components, wait until ready, stop them all.

Each child runs in its own session (so its own process group), with stdout and stderr going to
`<log_dir>/<name>.log`. Readiness is a TCP port on 127.0.0.1 that accepts a connection, or a
callable that returns True; a child that exits before it is ready fails the start, naming the
component and quoting the end of its log. `stop_all()` sends SIGTERM to every process group (last
started first), waits, then SIGKILLs what is left, so nothing keeps running after Ctrl-C or
SIGTERM. The supervisor is a context manager; `install_signal_handlers()` turns SIGTERM into
KeyboardInterrupt so one `finally` covers both.

Components come from providers: functions `demo_components(settings) -> list[Component]` named by
dotted path ("module:function"); `resolve()` imports them (a `(name, argv)` pair is accepted too).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import psutil

Ready = int | Callable[[], bool] | None


class ComponentFailed(RuntimeError):
    """A component exited or did not become ready in time (the message names it and quotes its log)."""


@dataclass(frozen=True)
class Component:
    """A child process: `ready` is a port on 127.0.0.1, a check, or None (started = ready)."""

    name: str
    argv: Sequence[str]
    ready: Ready = None
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    ready_timeout: float = 60.0


@dataclass
class Running:
    component: Component
    process: subprocess.Popen[bytes]
    log: Path


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class Supervisor:
    def __init__(self, log_dir: Path, *, stop_timeout: float = 5.0,
                 base_env: Mapping[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.stop_timeout = stop_timeout
        self.base_env = dict(os.environ if base_env is None else base_env)
        self.running: list[Running] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()

    def start(self, component: Component) -> Running:
        """Start one component and wait until it is ready (ComponentFailed otherwise)."""
        if any(r.component.name == component.name for r in self.running):
            raise ComponentFailed(f"component {component.name!r} is already running")
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{component.name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(list(component.argv), stdin=subprocess.DEVNULL, stdout=out,
                                       stderr=subprocess.STDOUT, env={**self.base_env, **component.env},
                                       start_new_session=True)
        running = Running(component, process, log)
        self.running.append(running)
        self.wait_ready(running)
        return running

    def start_all(self, components: Iterable[Component]) -> list[Running]:
        return [self.start(c) for c in components]

    def wait_ready(self, running: Running) -> None:
        c = running.component
        deadline = time.monotonic() + c.ready_timeout
        while True:
            code = running.process.poll()
            if code is not None:
                raise ComponentFailed(f"{c.name} exited with code {code} before it was ready; "
                                      f"log {running.log}:\n{_tail(running.log)}")
            if c.ready is None or (port_open(c.ready) if isinstance(c.ready, int) else c.ready()):
                return
            if time.monotonic() > deadline:
                raise ComponentFailed(f"{c.name} not ready after {c.ready_timeout:g} s; log {running.log}")
            time.sleep(0.1)

    def stop_all(self) -> None:
        """SIGTERM every process group (last started first), then SIGKILL what is left after the timeout."""
        for r in reversed(self.running):
            _signal_group(r.process, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for r in reversed(self.running):
            with contextlib.suppress(subprocess.TimeoutExpired):
                r.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            _signal_group(r.process, signal.SIGKILL)  # also any grandchild left in the group
            r.process.wait()
            _wait_group_gone(r.process.pid)
        self.running.clear()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)  # the child leads its own session: pgid == pid


def _wait_group_gone(pgid: int, timeout: float = 5.0) -> None:
    """Wait until no live process is left in the group: SIGKILL is delivered asynchronously, so a
    grandchild can still show as running for a moment after `killpg` returns (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_in_group(p, pgid) for p in psutil.process_iter()):
            return
        time.sleep(0.05)


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:
        return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
    except (ProcessLookupError, psutil.Error):
        return False


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM (and SIGHUP) raise KeyboardInterrupt, like Ctrl-C, so `finally` stops the children.

    They are also unblocked: a blocked signal mask is inherited across fork and exec, and a demo started
    by a process whose thread blocked SIGTERM stayed pending and ran on for good (CI, stop 25: a demo
    printed its live lines for 60 s after SIGTERM while SIGUSR1 reached it)."""
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGHUP, signal.SIGINT})


def as_component(item: Any) -> Component:
    if isinstance(item, Component):
        return item
    name, argv = item
    return Component(name=str(name), argv=[str(a) for a in argv])


def resolve(providers: Iterable[str], settings: Any) -> list[Component]:
    """The components of every provider ("package.module:function"), in order; names must be unique."""
    out: list[Component] = []
    for path in providers:
        module_name, _, attr = path.partition(":")
        provider = getattr(importlib.import_module(module_name), attr or "demo_components")
        out.extend(as_component(item) for item in provider(settings))
    names = [c.name for c in out]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ComponentFailed(f"two components named {', '.join(duplicates)}")
    return out
