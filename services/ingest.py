"""Ingest JSONL into the event store: validate every line, append in batches, report each rejection.

Nothing accepted is lost when a later line is bad: batches are committed as they fill, and a batch
the store refuses is retried event by event so only the offending event is rejected.
Rejected lines go to a JSONL file with the line number, the field and the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from uuid import UUID

import orjson

from events import Event, EventError, EventRetracted, Problem, Rejected, decode
from events.privacy import mask_personnummer
from services.store import EventStore, StoreError


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    lines: int = 0
    rejections: list[Rejected] = field(default_factory=list)


@dataclass
class _Pending:
    line: int
    text: str
    event: Event


class Ingestor:
    """Appends decoded events in batches and keeps the reference rules the store cannot see."""

    def __init__(
        self, store: EventStore, *, batch_size: int = 2000, on_reject: Callable[[Rejected], object]
    ) -> None:
        self._store = store
        self._batch_size = batch_size
        self._on_reject = on_reject
        self._pending: list[_Pending] = []
        self._stream_of: dict[UUID, str] = {}  # event ids seen in this run -> stream (for retractions)
        self.report = IngestReport()

    def feed(self, lines: Iterable[bytes | str]) -> IngestReport:
        for number, raw in enumerate(lines, start=1):
            line = raw.strip()
            if not line:
                continue
            self.report.lines += 1
            text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
            try:
                event = decode(line)
            except EventError as exc:
                # a rejected line may hold a personnummer: the rejects file never repeats it
                self._reject(Rejected(number, mask_personnummer(text)[:500], exc.at_line(number)))
                continue
            problem = self._check_reference(event)
            if problem is not None:
                self._reject(Rejected(number, text[:500], EventError([problem], number)))
                continue
            self._stream_of[event.event_id] = event.stream_id
            self._pending.append(_Pending(number, text[:500], event))
            if len(self._pending) >= self._batch_size:
                self.flush()
        self.flush()
        return self.report

    def _check_reference(self, event: Event) -> Problem | None:
        if not isinstance(event.data, EventRetracted):
            return None
        target = event.data.retracted_event_id
        stream = self._stream_of.get(target)
        if stream is None:
            stored = self._store.get(target)
            stream = None if stored is None else stored.stream_id
            if stored is not None and stored.type == "event.retracted":
                return Problem("data.retracted_event_id", "a retraction cannot itself be retracted")
        if stream is None:
            return Problem("data.retracted_event_id", f"no event {target} is known to the store")
        if stream != event.stream_id:
            reason = f"a retraction goes on the stream of the event it withdraws ({stream!r})"
            return Problem("stream_id", reason)
        return None

    def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            self._append(batch)
        except StoreError:
            for p in batch:  # isolate the offending event; keep every good one
                try:
                    self._append([p])
                except StoreError as exc:
                    self._stream_of.pop(p.event.event_id, None)  # not stored: retractions may not name it
                    self._reject(Rejected(p.line, p.text, EventError([Problem("", str(exc))], p.line)))

    def _append(self, batch: list[_Pending]) -> None:
        result = self._store.append([p.event for p in batch])
        self.report.accepted += len(result.accepted)
        self.report.duplicates += len(result.duplicates)
        by_id = {p.event.event_id: p for p in batch}  # a repeated id: the later line is the conflicting one
        for event_id, conflict in zip(result.conflict_ids, result.conflicts, strict=True):
            p = by_id[event_id]
            self._stream_of.pop(event_id, None)  # the stored event with this id decides its stream
            self._reject(Rejected(p.line, p.text, EventError([Problem("event_id", conflict)], p.line)))

    def _reject(self, rejected: Rejected) -> None:
        self.report.rejected += 1
        if len(self.report.rejections) < 1000:  # keep a sample for the summary; all go to the file
            self.report.rejections.append(rejected)
        self._on_reject(rejected)


def rejection_line(rejected: Rejected) -> bytes:
    problems = [{"field": p.field, "reason": p.reason} for p in rejected.error.problems]
    return orjson.dumps({"line": rejected.line, "problems": problems, "text": rejected.text}) + b"\n"


def ingest_lines(
    store: EventStore, lines: Iterable[bytes], rejects: IO[bytes], *, batch_size: int = 2000
) -> IngestReport:
    """Ingest JSONL lines; rejected lines are written to `rejects` as they are found."""
    ingestor = Ingestor(store, batch_size=batch_size, on_reject=lambda r: rejects.write(rejection_line(r)))
    return ingestor.feed(lines)


def ingest_file(store: EventStore, path: Path, rejects_path: Path, *, batch_size: int = 2000) -> IngestReport:
    with path.open("rb") as src, rejects_path.open("wb") as rejects:
        return ingest_lines(store, src, rejects, batch_size=batch_size)
