"""The writer's WAL checkpoints run in a thread of its own (services/readmodel/checkpoint.py), real SQLite."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from services.readmodel.checkpoint import checkpoint_in_background
from services.readmodel.persist import PartitionMark, open_readmodel, write_batch


def test_commits_do_not_checkpoint_the_thread_does(tmp_path: Path) -> None:
    path = tmp_path / "rm.db"
    engine = open_readmodel(f"sqlite:///{path}")
    stop = checkpoint_in_background(engine, interval=0.1)
    assert stop is not None
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        before = path.stat().st_size
        rows = [(p, 0, "case.actualised", None, b"x" * 400) for p in range(1, 3001)]
        write_batch(engine, {"intake": rows}, {0: PartitionMark(3000, 2999, 3000)})
        deadline = time.monotonic() + 10
        while path.stat().st_size < before + 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        # only a checkpoint copies the WAL's pages into the database file (the commit did not: it is off)
        assert path.stat().st_size >= before + 1_000_000
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM rm_intake").scalar() == 3000
    finally:
        stop.set()
        engine.dispose()


def test_postgresql_needs_no_thread() -> None:
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected
    assert checkpoint_in_background(engine) is None


def test_processes_starting_together_create_the_read_model_tables_once(tmp_path: Path) -> None:
    """The demo's worker, exporter and UI open the read model at once: none fails on a table or a
    generation row another one made between its check and its CREATE (seen: "table projection_position
    already exists")."""
    import threading

    from sqlalchemy import create_engine

    from services.readmodel.tables import create_all

    for round_ in range(6):
        url = f"sqlite:///{tmp_path / f'rm{round_}.db'}"
        engines = [create_engine(url, connect_args={"timeout": 30}) for _ in range(4)]
        start, errors = threading.Barrier(len(engines)), list[Exception]()

        def open_one(engine: Any, start: Any = start, errors: list[Exception] = errors) -> None:
            start.wait()
            try:
                create_all(engine)
            except Exception as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=open_one, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for e in engines:
            e.dispose()
        assert not errors, errors
