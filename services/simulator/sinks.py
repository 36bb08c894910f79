"""Where simulated events go: a JSONL file (streamed, orjson) or an event store (batched appends).

JSONL lines are the wire dicts with sorted keys, so the same seed gives the same bytes. Store loads
validate every event with the codec (`events.decode_dict`) and append in batches (default 2 000).
A batch whose last event the store already holds was appended by an earlier run (batches are
atomic and the history is deterministic), so it is skipped: loading the same history twice adds
nothing and costs little. Anything the store refuses as a conflict is reported, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO
from uuid import UUID

import orjson

from events import decode_dict
from services.simulator.core import Raw
from services.store.base import EventStore

Progress = Callable[[int, Raw], None]  # (events handled so far, last event)


def encode_raw(event: Raw) -> bytes:
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS) + b"\n"


def write_jsonl(events: Iterable[Raw], out: IO[bytes], progress: Progress | None = None) -> int:
    """Stream events to `out` as JSONL; returns the number written."""
    n = 0
    for event in events:
        out.write(encode_raw(event))
        n += 1
        if progress is not None and n % 2000 == 0:
            progress(n, event)
    return n


@dataclass
class LoadReport:
    accepted: int = 0
    duplicates: int = 0
    skipped_batches: int = 0
    other_history: bool = False  # the store holds a different history: nothing was appended
    conflicts: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.accepted + self.duplicates + len(self.conflicts)


def _known(store: EventStore, raw: Raw) -> bool:
    return store.get(UUID(raw["event_id"])) is not None


def append_batch(store: EventStore, batch: list[Raw], report: LoadReport, *, skip_known: bool = True) -> None:
    """Validate and append one batch, or skip it (undecoded) when its last event is already stored."""
    if skip_known and _known(store, batch[-1]):
        report.duplicates += len(batch)
        report.skipped_batches += 1
        return
    result = store.append([decode_dict(raw) for raw in batch])
    report.accepted += len(result.accepted)
    report.duplicates += len(result.duplicates)
    report.conflicts.extend(result.conflicts)


def load_store(store: EventStore, events: Iterable[Raw], *, batch_size: int = 2000,
               progress: Progress | None = None, same_history: bool = False) -> LoadReport:
    """Validate and append events in batches; returns accepted, duplicate and conflicting counts.

    `same_history`: a non-empty store must already hold this history's first batch (an earlier run
    of the same history), else nothing is appended and `other_history` is set.
    """
    report = LoadReport()
    batch: list[Raw] = []
    check = same_history and store.head() > 0
    for raw in events:
        batch.append(raw)
        if len(batch) >= batch_size:
            if check and not _known(store, raw):
                report.other_history = True
                return report
            check = False
            append_batch(store, batch, report)
            batch = []
            if progress is not None:
                progress(report.handled, raw)
    if batch:
        append_batch(store, batch, report)
        if progress is not None:
            progress(report.handled, batch[-1])
    return report
