"""`casestream demo` with every component: broker, relay, worker, exporter and UI, end to end.

The relay and the worker serve their own /metrics (pipeline health) on the ports the test chooses.
CASESTREAM_TEST_SCALE=small shrinks the history to one simulated month (CONVENTIONS §9). Live events
trickle in slowly (one every few seconds), so between two of them the worker catches up with the store;
at such a moment the read model must hold exactly the store's events and give the store fold's report.
While the demo runs the UI answers and /metrics carries KPI series; afterwards no child is left.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import psutil

from events.timeutil import Period
from projections import bundle
from services.readmodel.persist import open_readmodel
from services.readmodel.source import applied_totals, bundle_from_readmodel
from services.reports import report_from_bundle
from services.settings import Settings
from services.store import open_store

CASESTREAM = str(Path(sys.executable).parent / "casestream")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        return str(response.read().decode("utf-8", "replace"))


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            found = check()
            if found:
                return found
        except Exception as exc:  # a component still starting: keep polling until the deadline
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what} (last error: {last!r})")


def published(metrics: str, name: str) -> float:
    """The sum of a counter's samples in a /metrics page (0 when absent)."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(name) and not line.startswith("#"))


def caught_up(store_url: str, rm_url: str) -> int | None:
    """The store head when the read model has applied every event up to it, else None."""
    store = open_store(store_url)
    engine = open_readmodel(rm_url)
    try:
        head = store.head()
        _, top = applied_totals(engine)
        return head if head > 0 and top == head else None
    finally:
        store.close()
        engine.dispose()


def test_demo_with_pipeline_exporter_and_ui(tmp_path: Path) -> None:
    ports = {"CASESTREAM_UI_PORT": free_port(), "CASESTREAM_EXPORTER_PORT": free_port(),
             "CASESTREAM_WORKER_WEB_PORT": free_port(), "CASESTREAM_WORKER_METRICS_PORT": free_port(),
             "CASESTREAM_RELAY_METRICS_PORT": free_port()}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASESTREAM_")}
    env.update({k: str(v) for k, v in ports.items()}, CASESTREAM_TEST_SCALE="small", COLUMNS="250")
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    store_url = f"sqlite:///{tmp_path / 'var' / 'demo' / 'store.db'}"
    rm_url = f"sqlite:///{tmp_path / 'var' / 'demo' / 'store.readmodel.db'}"
    log = tmp_path / "demo.log"
    seen: set[psutil.Process] = set()
    with log.open("w") as out:
        demo = subprocess.Popen([CASESTREAM, "demo", "--years", "1", "--rate", "0.25", "--duration", "600"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            wait_for(lambda: "Live:" in log.read_text(encoding="utf-8"), 300, "the live phase")
            seen.update(psutil.Process(demo.pid).children(recursive=True))
            assert "<title>" in fetch(f"http://127.0.0.1:{ports['CASESTREAM_UI_PORT']}/")
            metrics = fetch(f"http://127.0.0.1:{ports['CASESTREAM_EXPORTER_PORT']}/metrics")
            assert "casestream_line_persons_per_day{" in metrics
            assert "casestream_unit_occupancy_accumulated_ratio{" in metrics
            head = wait_for(lambda: caught_up(store_url, rm_url), 240, "the worker to catch up")
            relay = fetch(f"http://127.0.0.1:{ports['CASESTREAM_RELAY_METRICS_PORT']}/metrics")
            worker = fetch(f"http://127.0.0.1:{ports['CASESTREAM_WORKER_METRICS_PORT']}/metrics")
            assert published(relay, "casestream_events_published_total") >= head
            assert published(worker, "casestream_events_projected_total") >= 1
            assert_readmodel_equals_store(store_url, rm_url, head)
        finally:
            seen.update(psutil.Process(demo.pid).children(recursive=True) if demo.poll() is None else [])
            demo.send_signal(signal.SIGTERM)
            demo.wait(timeout=90)
    assert demo.returncode == 0, log.read_text(encoding="utf-8")
    alive = [p for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive


def assert_readmodel_equals_store(store_url: str, rm_url: str, head: int) -> None:
    """The demo keeps appending live events: the read model is read until nothing new was applied
    while it was read (caught up at the same head before and after), then compared at that head."""
    engine = open_readmodel(rm_url)
    try:
        for _ in range(20):
            live = bundle_from_readmodel(engine)
            again = wait_for(lambda: caught_up(store_url, rm_url), 240, "the worker to catch up")
            if again == head:
                break
            head = again
        else:
            raise AssertionError("the read model never stood still long enough to be compared")
    finally:
        engine.dispose()
    store = open_store(store_url)
    try:
        folded = bundle.fold(e for e in store.read_all() if e.position is not None and e.position <= head)
    finally:
        store.close()
    today = date.today()
    period = Period(date(today.year, 1, 1), today)
    settings = Settings()
    for name in ("external-purchases", "occupancy", "intake", "investigations"):
        assert report_from_bundle(live, name, period, settings).rows == \
            report_from_bundle(folded, name, period, settings).rows, name
