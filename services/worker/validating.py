"""Validating a batch: in helper processes and, for an adaptive share, in the worker process itself.

Validation (`services.readmodel.facts.decode_batch`: pydantic-core over the bytes, the models' own
validators, building the fact rows) is most of the worker's CPU per event. A helper process validates
batch k+1 while the worker assembles and commits batch k. On 2 cores that alone leaves the worker
waiting for its helper, so the worker validates the tail of each batch itself, and balances the share:
when the helper's part is not ready by the time the worker needs it, the worker takes more next
time; when it is, it takes less (`share`, steps of `STEP`, at most `MAX_SHARE`). Results are merged
in item order, so the outcome is the same as one validation of the whole batch.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from services.readmodel.facts import Chunk, Validated, decode_batch, warm_up

STEP = 0.02
MAX_SHARE = 0.6
START_SHARE = 0.2


def tune_gc() -> None:
    """Move what exists now (the app, the models) out of the collector's sight and collect young objects
    less often: a batch allocates ~30 objects per message, none cyclic, and the default thresholds made
    the cyclic collector rescan the long-lived heap many times per batch (measured: ~40 % of the step)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 50)


def _watch_parent(parent: int) -> None:
    """A helper ends when its worker is gone (kill -9 included): the pool's queue never reports it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _decoder_start(parent: int) -> None:
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    warm_up()
    tune_gc()


def decoder_pool(processes: int) -> Executor | None:
    """Helper processes that validate events while the worker fetches and commits (spawned: the worker
    has threads); None = validate in the worker itself."""
    if processes <= 0:
        return None
    ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=processes, mp_context=ctx, initializer=_decoder_start, initargs=(os.getpid(),)
    )


def split_chunks(chunks: list[Chunk], sizes: list[int]) -> list[list[Chunk]]:
    """`chunks` cut into consecutive parts of the given item counts, in order (a partition may be cut);
    the last part takes what is left."""
    parts: list[list[Chunk]] = [[] for _ in sizes]
    index, room = 0, sizes[0]
    for partition, items in chunks:
        at = 0
        while at < len(items):
            while room <= 0 and index < len(sizes) - 1:
                index += 1
                room = sizes[index]
            take = items[at:] if index == len(sizes) - 1 else items[at : at + room]
            parts[index].append((partition, take))
            at, room = at + len(take), room - len(take)
    return parts


def _position(row: tuple[Any, ...]) -> Any:
    return row[0]


def merge_validated(parts: list[Validated]) -> Validated:
    """The parts' results as one, as if validated together (item indexes shifted, rows re-sorted)."""
    if len(parts) == 1:
        return parts[0]
    out = Validated([], {}, {}, None)
    for part in parts:
        base = len(out.positions)
        out.positions.extend(part.positions)
        out.reasons.update({base + i: r for i, r in part.reasons.items()})
        for name, rows in part.facts.items():
            out.facts.setdefault(name, []).extend(rows)
        newest = [u for u in (out.newest_appended_us, part.newest_appended_us) if u is not None]
        out.newest_appended_us = max(newest, default=None)
    for rows in out.facts.values():
        rows.sort(key=_position)  # sorted runs: a merge
    return out


@dataclass
class Pending:
    """A batch being validated: the helpers' parts (futures) and the worker's own tail, not yet run."""

    helpers: list[asyncio.Future[Validated]]
    local: list[Chunk]

    def cancel(self) -> None:
        for f in self.helpers:
            f.cancel()


class Validator:
    """Starts a batch's validation in the helpers and finishes it with the worker's own share."""

    def __init__(self, processes: int, key: bytes | None = None) -> None:
        self.processes = max(processes, 0)
        self.key = key  # the relay's signing key (services.kafka.signing), handed to every part
        self.pool = decoder_pool(self.processes)
        self.share = START_SHARE if self.pool is not None else 1.0

    def warm(self) -> None:
        """Spawn and warm the helpers (while the group join takes its seconds)."""
        if self.pool is not None:
            for _ in range(self.processes):
                self.pool.submit(decode_batch, [])

    def start(self, chunks: list[Chunk]) -> Pending:
        if self.pool is None:
            return Pending([], chunks)
        total = sum(len(items) for _, items in chunks)
        local = int(total * self.share)
        each = -(-(total - local) // self.processes)
        parts = split_chunks(chunks, [each] * self.processes + [local])
        loop = asyncio.get_running_loop()
        futures = [loop.run_in_executor(self.pool, decode_batch, p, self.key) for p in parts[:-1] if p]
        return Pending(futures, parts[-1])

    async def finish(self, pending: Pending) -> Validated:
        own = decode_batch(pending.local, self.key) if pending.local else None
        if pending.helpers:
            ready = all(f.done() for f in pending.helpers)
            step = -STEP if ready else STEP  # the helpers waited for us / we waited for them
            self.share = min(MAX_SHARE, max(0.0, self.share + step))
        parts = list(await asyncio.gather(*pending.helpers))
        return merge_validated(parts + ([own] if own is not None else []))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
