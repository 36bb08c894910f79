"""The worker survives its broker vanishing (kill -9) and coming back on the same port (issue 9 note).

Broker + relay + worker run; the broker is killed -9 mid-stream and stays away longer than the group
session (6 s); a new, empty broker starts on the same port. The worker process must never exit, must
say it is down while the broker is away (`casestream_worker_up` 0 on its /metrics), and the read model
must catch up and equal the fold of the store (the relay refills the new broker from the store).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path

from services.kafka.broker import EmbeddedBroker, free_port
from services.readmodel.persist import open_readmodel
from services.readmodel.source import applied_totals, bundle_from_readmodel
from services.reports import bundle_from_store
from services.store import open_store
from tests.integration.pipeline_kit import Pipeline, assert_same_bundle, caught_up, history, wait_for

AWAY_S = 9.0  # longer than the 6 s session: the group forgets the worker (40 s also passed)


def _worker_up(port: int) -> float | None:
    try:
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("casestream_worker_up"):
            return float(line.split()[-1])
    return None


def _kill9(broker: EmbeddedBroker) -> None:
    proc, broker.proc = broker.proc, None
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_worker_rides_out_a_vanished_broker(tmp_path: Path) -> None:
    broker = EmbeddedBroker(tmp_path / "broker.log").start()
    pipeline = Pipeline(tmp_path, broker.bootstrap, extra_env={"CASESTREAM_WORKER_BATCH_MAX": "300"})
    store = open_store(pipeline.store_url)
    events = history(61, 1500)
    store.append(events[:700])
    engine = open_readmodel(pipeline.readmodel_url)
    metrics = free_port()
    try:
        pipeline.relay()
        worker = pipeline.worker(0, "--metrics-port", str(metrics))
        wait_for(caught_up(engine, store.head()), 90, "the first events projected", pipeline)
        assert _worker_up(metrics) == 1.0
        _kill9(broker)
        store.append(events[700:1100])  # arrives while the broker is away
        wait_for(lambda: _worker_up(metrics) == 0.0, 30, "the worker to report itself down", pipeline)
        time.sleep(AWAY_S)
        assert worker.popen is not None and worker.popen.poll() is None, pipeline.logs()
        broker.start()  # same port, empty
        store.append(events[1100:])
        wait_for(caught_up(engine, store.head()), 120, "the read model to catch up", pipeline)
        assert worker.popen.poll() is None, "the worker exited:\n" + pipeline.logs()
        assert_same_bundle(bundle_from_readmodel(engine), bundle_from_store(store))
        wait_for(lambda: _worker_up(metrics) == 1.0, 30, "the worker to report itself up", pipeline)
        assert applied_totals(engine)[1] == store.head()
    finally:
        pipeline.stop_all()
        broker.stop()
        engine.dispose()
        store.close()
