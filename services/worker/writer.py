"""The helper process that validates whole batches AND writes them (the default with one helper).

Measured (docs/design.md "Measured", 2026-12-01 14:00): with the commit in a thread of the worker
process, the SQLite write took ~20 µs per event of wall time inside the worker against ~5 µs alone —
every row's `sqlite3_step` releases the GIL and the commit thread then waits for it while the loop
parses the next fetch and the pool's threads (un)pickle the next batch. In a process of its own the
write has a GIL to itself, and the fact rows (which carry the bodies) never travel back to the worker.

Per batch `k`, the worker sends the items to the helper (`start`); the helper validates them and keeps
the fact rows under the batch's number, answering with the positions, reasons and newest time only
(the `Validated` without rows). The worker assembles the plan as before (position check against the
positions as they are then, dead letters sent), then asks the helper to `commit` batch `k` with the
plan's partition marks and the positions to leave out: ONE transaction writes the kept rows and the
positions, exactly as `write_batch` did in the worker. The worker does not wait for that answer before
fetching batch `k+2`; its `pending` positions cover the batch in flight, and a revocation, the end of
a session and the end of the loop wait for every commit in flight. The helper runs the calls in order
(one process, FIFO), so commits keep their order.

A helper never outlives its worker: it is killed by the kernel when its parent dies (PR_SET_PDEATHSIG
on Linux, the parent-watch thread elsewhere), and checks its parent right before every commit, so
nothing is committed after a kill -9 of the worker that a restarted worker has not seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import marshal
import multiprocessing
import os
import signal
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Engine

from services.readmodel.checkpoint import checkpoint_in_background
from services.readmodel.facts import Chunk, Validated, decode_batch
from services.readmodel.persist import PartitionMark, open_readmodel, write_batch
from services.worker.validating import (
    MAX_SHARE,
    START_SHARE,
    STEP,
    Validator,
    _decoder_start,
    merge_validated,
    split_chunks,
)

_PR_SET_PDEATHSIG = 1
Rows = dict[str, list[tuple[Any, ...]]]  # fact rows per projection
_state: dict[str, Any] = {}  # in the helper: the engine, the parent's pid, kept rows by batch number


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # no prctl: the parent-watch thread ends it
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _writer_start(parent: int, url: str) -> None:
    _die_with_parent()
    if os.getppid() != parent:  # the worker died before the prctl took effect
        os._exit(0)
    _decoder_start(parent)
    engine = open_readmodel(url)
    checkpoint_in_background(engine)  # SQLite: copying the WAL into the file is not the commit's job
    _state.update(engine=engine, parent=parent, kept={})


def _packed(chunks: list[Chunk]) -> bytes | list[Chunk]:
    """The chunks as one marshal string (version 2: no back-references), when marshal can carry them:
    the pool pickles one bytes object instead of 3 objects per message (~0.9 µs per message less, in
    both processes together); anything else (never from aiokafka) goes as it is."""
    try:
        return marshal.dumps(chunks, 2)
    except ValueError:
        return chunks


def validate_keep(number: int, chunks: bytes | list[Chunk], key: bytes | None) -> Validated:
    """Validate a batch in the helper; keep its fact rows, return the rest."""
    validated = decode_batch(marshal.loads(chunks) if isinstance(chunks, bytes) else chunks, key)
    _state["kept"][number] = validated.facts
    validated.facts = {}
    return validated


def commit_kept(
    number: int, marks: Mapping[int, PartitionMark], drop: frozenset[int], extra: Rows | None = None
) -> None:
    """Write batch `number`'s kept rows (less `drop`), the rows the worker validated itself (`extra`)
    and the marks in one transaction."""
    if os.getppid() != _state["parent"]:  # the worker is gone: a restarted one re-reads this batch
        os._exit(0)
    if _state.get("failed"):  # a later batch must never move a position past a batch not written
        raise RuntimeError(f"batch {number} not written: an earlier commit of this helper failed")
    try:
        _write(number, marks, drop, extra or {})
    except BaseException:
        _state["failed"] = True
        raise


def _position(row: tuple[Any, ...]) -> Any:
    return row[0]


def _write(number: int, marks: Mapping[int, PartitionMark], drop: frozenset[int], extra: Rows) -> None:
    kept: dict[int, dict[str, list[tuple[Any, ...]]]] = _state["kept"]
    facts = kept.pop(number)
    for older in [n for n in kept if n < number]:  # validated, then dropped by the worker
        del kept[older]
    if drop:
        facts = {p: [r for r in rows if r[0] not in drop] for p, rows in facts.items()}
    for projection, rows in extra.items():
        mine = facts.setdefault(projection, [])
        mine.extend(rows)
        mine.sort(key=_position)  # two sorted runs: a merge; inserted in key order
    if marks:  # else nothing was applied (all skipped or dead-lettered)
        write_batch(_state["engine"], facts, marks)


def discard_kept(number: int) -> None:
    _state["kept"].pop(number, None)


def engine_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@dataclass(slots=True)
class InHelper:
    """A batch handed to the helper: its number, the helper's answer, the tail the worker validates."""

    number: int
    answer: asyncio.Future[Validated]
    local: list[Chunk]


def start_helpers(
    processes: int, helper_writes: bool, engine: Engine, key: bytes | None
) -> tuple[Validator | None, HelperWriter | None]:
    """The worker's helper(s), spawned and warming up: the helper that writes (one, the default), else
    `Validator`'s helpers that send the rows back (or none: `processes` = 0)."""
    if processes >= 1 and helper_writes:
        writer = HelperWriter(engine_url(engine), key)
        writer.warm()
        return None, writer
    validator = Validator(processes, key)
    validator.warm()
    return validator, None


class HelperWriter:
    """The worker's side: one helper process, calls run in the order they are made.

    The worker validates the tail of each batch itself and sends those rows with the commit; its share
    adapts as with `Validator` (steps of `STEP`, at most `MAX_SHARE`): when it had to wait for the
    helper (its part of the batch, or the commit before), it takes more next time, else less."""

    def __init__(self, url: str, key: bytes | None) -> None:
        self.key = key
        ctx = multiprocessing.get_context("spawn")  # the worker has threads
        self.pool = ProcessPoolExecutor(
            max_workers=1, mp_context=ctx, initializer=_writer_start, initargs=(os.getpid(), url)
        )
        self.number = 0
        self.share = START_SHARE

    def warm(self) -> None:
        """Spawn the helper and build its validator while the group join takes its seconds."""
        self.pool.submit(decode_batch, [])

    def start(self, chunks: list[Chunk]) -> InHelper:
        self.number += 1
        total = sum(len(items) for _, items in chunks)
        local = int(total * self.share)
        theirs, mine = split_chunks(chunks, [total - local, local])
        loop = asyncio.get_running_loop()
        answer = loop.run_in_executor(self.pool, validate_keep, self.number, _packed(theirs), self.key)
        return InHelper(self.number, answer, mine)

    async def finish(self, batch: InHelper) -> tuple[Validated, bool]:
        """The batch validated (rows: the worker's own part only) and whether the helper was ready."""
        own = decode_batch(batch.local, self.key) if batch.local else None
        ready = batch.answer.done()
        theirs = await batch.answer
        return merge_validated([theirs] + ([own] if own is not None else [])), ready

    def adapt(self, waited: bool) -> None:
        self.share = min(MAX_SHARE, max(0.0, self.share + (STEP if waited else -STEP)))

    def commit(
        self, number: int, marks: Mapping[int, PartitionMark], drop: frozenset[int], rows: Rows
    ) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.pool, commit_kept, number, dict(marks), drop, rows)

    def discard(self, number: int) -> None:
        self.pool.submit(discard_kept, number)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
