"""The helper process that validates and writes (services/worker/writer.py), on a real SQLite read model.

* batches are written in order, each with its positions in one transaction; a failed commit makes
  the helper refuse every later one (a later batch must never move a position past an unwritten one);
* the helper dies with its worker (kill -9 included), so it never commits behind a restarted worker;
* the other two commit paths (helper validates / worker writes, and no helper at all) still give a
  read model equal to the store fold through the real relay and worker.
Kill -9 of a worker between fetch and commit (the default path) is tests/e2e/test_pipeline_faults.py.
"""

from __future__ import annotations

import asyncio
import io
import marshal
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from events import encode
from services.bench import bench_messages
from services.ingest import ingest_lines
from services.kafka.broker import EmbeddedBroker
from services.kafka.signing import sign
from services.readmodel.facts import Chunk
from services.readmodel.persist import PartitionMark, load_positions, open_readmodel
from services.readmodel.source import applied_totals, bundle_from_readmodel
from services.reports import bundle_from_store
from services.store import open_store
from services.worker.writer import HelperWriter, _packed
from tests.integration.pipeline_kit import Pipeline, assert_same_bundle, caught_up, history, wait_for

KEY = bytes(range(32))


def _chunk(first: int, count: int, partition: int = 0) -> Chunk:
    """Signed bench messages first..first+count-1 (positions), all on one partition."""
    messages = bench_messages(first + count - 1)[first - 1 :]
    return (partition, [(v, p, sign(KEY, v, p)) for _, v, p in messages])


def _mark(first: int, count: int) -> dict[int, PartitionMark]:
    return {0: PartitionMark(first + count - 1, first + count - 2, count)}


def _rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE name LIKE 'rm_%'")]
        facts = [t for t in tables if t != "rm_generation"]
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in facts)


async def _commit(writer: HelperWriter, first: int, count: int) -> None:
    batch = writer.start([_chunk(first, count)])  # the helper's part, and the worker's own tail
    assert batch.local and (await batch.answer).facts == {}  # the helper's rows stay in the helper
    validated, _ = await writer.finish(batch)
    assert sorted(validated.positions) == list(range(first, first + count))
    await writer.commit(batch.number, _mark(first, count), frozenset(), validated.facts)


def test_batches_commit_in_order_and_a_failed_commit_stops_every_later_one(tmp_path: Path) -> None:
    path = tmp_path / "rm.db"
    url = f"sqlite:///{path}"
    engine = open_readmodel(url)
    writer = HelperWriter(url, KEY)

    async def scenario() -> None:
        await _commit(writer, 1, 40)
        await _commit(writer, 41, 40)
        assert _rows(path) == 80 and applied_totals(engine) == (80, 80)
        with sqlite3.connect(path) as conn:  # the next write fails: its table is gone
            conn.execute("ALTER TABLE rm_care_costs RENAME TO hidden")
        with pytest.raises(Exception, match="no such table"):
            await _commit(writer, 81, 40)
        with sqlite3.connect(path) as conn:
            conn.execute("ALTER TABLE hidden RENAME TO rm_care_costs")
        with pytest.raises(RuntimeError, match="an earlier commit of this helper failed"):
            await _commit(writer, 121, 40)

    try:
        asyncio.run(scenario())
    finally:
        writer.close()
    assert _rows(path) == 80
    assert {pos for pos, _ in load_positions(engine).values()} == {80}  # nothing moved past the failure
    engine.dispose()


HOLDER = """
import os, sys, time
from services.worker.writer import HelperWriter, _packed
writer = HelperWriter(sys.argv[1], None)
writer.warm()
time.sleep(60)
"""


def test_the_helper_dies_with_its_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/rm.db"
    open_readmodel(url).dispose()
    worker = subprocess.Popen([sys.executable, "-c", HOLDER, url], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        helpers: list[psutil.Process] = []
        while not helpers and time.monotonic() < deadline:
            time.sleep(0.1)
            children = psutil.Process(worker.pid).children()
            helpers = [p for p in children if "spawn_main" in " ".join(p.cmdline())]
        assert helpers, "the helper process never started"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(10)
        _, alive = psutil.wait_procs(helpers, timeout=5)
        assert not alive, alive
    finally:
        if worker.poll() is None:
            worker.kill()


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path / "broker.log") as b:
        yield b


@pytest.mark.parametrize(
    "env",
    [{"CASESTREAM_WORKER_HELPER_WRITES": "false"}, {"CASESTREAM_WORKER_DECODE_PROCESSES": "0"}],
    ids=["helper-validates-worker-writes", "no-helper"],
)
def test_the_other_commit_paths_equal_the_store_fold(
    tmp_path: Path, broker: EmbeddedBroker, env: dict[str, str]
) -> None:
    pipeline = Pipeline(tmp_path, broker.bootstrap, extra_env=env)
    store = open_store(pipeline.store_url)
    lines = io.BytesIO(b"\n".join(encode(e, with_store_fields=False) for e in history(31, 700)) + b"\n")
    assert ingest_lines(store, lines, io.BytesIO(), batch_size=250).rejected == 0
    try:
        pipeline.relay()
        pipeline.worker()
        engine = open_readmodel(pipeline.readmodel_url)
        wait_for(caught_up(engine, store.head()), 90, "the worker to catch up", pipeline)
        assert_same_bundle(bundle_from_readmodel(engine), bundle_from_store(store))
        engine.dispose()
    finally:
        pipeline.stop_all()
        store.close()


def test_batches_reach_the_helper_unchanged() -> None:
    """The marshal packing carries every shape an item can have (no value, no header, a header beyond
    64 bits, no signature), and anything marshal cannot carry goes as it is."""
    chunks: list[Chunk] = [(0, [(b"{}", 1, b"s" * 16), (None, None, None), (b"x", 2**80, b"")]), (5, [])]
    packed = _packed(chunks)
    assert isinstance(packed, bytes) and marshal.loads(packed) == chunks
    odd: list[Any] = [(0, [(object(), 1, None)])]
    assert _packed(odd) is odd
