"""The ONE shared projector step: a whole fetched batch in, read model and positions out, one transaction.

For every message of every partition: skip it when its store position (header) is at or below the
position already applied for that partition; read it when the relay signed it (`read_signed`), else
decode and validate it (`decode_fast`), sending what fails to the dead-letter list with the reason;
pick the projections whose state it changes (`relevant`, i.e. the pure `apply` of projections/) and
add the fact rows. Then `write_batch` commits
all fact rows and every partition's new position together. A crash before the commit loses nothing
(the batch is fetched again); after it, the replay is skipped by position: exactly-once effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.engine import Engine

from services.kafka.signing import position_and_signature
from services.readmodel.facts import Chunk, Item, Validated, decode_batch
from services.readmodel.persist import EPOCH, PartitionMark, check_live_layout, load_positions, write_batch


class Message(Protocol):
    """What the projector needs of a consumed record (aiokafka's ConsumerRecord has it)."""

    @property
    def partition(self) -> int: ...

    @property
    def offset(self) -> int: ...

    @property
    def value(self) -> bytes | None: ...

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class DeadLetter:
    partition: int
    offset: int
    value: bytes | None
    reason: str

    @property
    def kind(self) -> str:
        """decode_error (not a JSON object at all) or validation_error (the metric's label)."""
        undecodable = ("no value", "not valid JSON", "must be a JSON object", "bytes, over the limit")
        return "decode_error" if any(u in self.reason for u in undecodable) else "validation_error"


@dataclass
class Outcome:
    applied: int = 0
    skipped: int = 0  # at or below the stored position: a duplicate or a replay
    dead: list[DeadLetter] = field(default_factory=list)
    newest_appended_at: datetime | None = None  # of the events applied (feeds the staleness metric)


@dataclass
class Plan:
    facts: dict[str, list[tuple[Any, ...]]]
    marks: dict[int, PartitionMark]
    outcome: Outcome
    drop: frozenset[int] = frozenset()  # positions whose rows are left out (skipped since `select`)


@dataclass(slots=True)
class Chosen:
    """One partition's share of a batch after the position check by header, before decoding."""

    partition: int
    kept: list[tuple[int, bytes | None, int | None]]  # (offset, value, header position) to decode
    items: list[Item]  # (value, header position, signature): what `decode_batch` takes
    skipped: int

    @property
    def chunk(self) -> Chunk:
        return (self.partition, self.items)


class Projector:
    """Keeps the committed position per partition in memory (loaded at start and on assignment)."""

    def __init__(self, engine: Engine, key: bytes | None = None) -> None:
        check_live_layout(engine)
        self.engine = engine
        self.key = key  # the relay's signing key: signed messages are read, not validated (None: all are)
        self.positions: dict[int, tuple[int, int]] = {}  # committed: partition -> (position, offset)
        self.pending: dict[int, int] = {}  # prepared, commit in flight: partition -> position
        self.reload()

    def reload(self) -> None:
        """Read the committed positions (the lowest over projections, which move together)."""
        found: dict[int, tuple[int, int]] = {}
        for (_, partition), (pos, off) in load_positions(self.engine).items():
            if partition not in found or pos < found[partition][0]:
                found[partition] = (pos, off)
        self.positions = found
        self.pending = {}

    def position(self, partition: int) -> int:
        """The position batches are checked against: prepared (maybe not yet committed), else committed."""
        if partition in self.pending:
            return self.pending[partition]
        return self.positions.get(partition, (0, -1))[0]

    def offset_hint(self, partition: int) -> int:
        """Kafka offset of the last applied message of `partition` (-1 when none)."""
        return self.positions.get(partition, (0, -1))[1]

    def process(self, batch: Mapping[int, Sequence[Message]]) -> Outcome:
        """Apply one batch ({partition: messages in offset order}) and commit it with the positions."""
        plan = self.prepare(batch)
        self.commit(plan)
        return plan.outcome

    def prepare(self, batch: Mapping[int, Sequence[Message]]) -> Plan:
        """Decode, skip and pick facts in this process (no I/O); the caller sends the dead letters, then
        `commit`s. The worker's consumer does the same in three steps, decoding in a helper process."""
        chosen = self.select(batch)
        return self.assemble(chosen, decode_batch([c.chunk for c in chosen], self.key))

    def select(self, batch: Mapping[int, Sequence[Message]]) -> list[Chosen]:
        """Per partition, the messages above its position by header (or without one): what to decode."""
        chosen = []
        for partition, messages in batch.items():
            top, kept, items, skipped = self.position(partition), [], [], 0
            for msg in messages:
                pos, signature = position_and_signature(msg.headers)
                if pos is not None and pos <= top:
                    skipped += 1
                    continue
                value = msg.value
                kept.append((msg.offset, value, pos))
                items.append((value, pos, signature))
            chosen.append(Chosen(partition, kept, items, skipped))
        return chosen

    def assemble(self, chosen: Sequence[Chosen], validated: Validated) -> Plan:
        """The plan from the validated batch (items in `select`'s order); marks the partitions pending.

        A message at or below the partition's position *now* (not at `select`: the consumer selects a
        batch before the last one is assembled), e.g. a duplicate within the batch, is skipped and its
        fact rows are left out unless the same position is applied in this batch too (then the copy is
        the same event and the table's key keeps one row)."""
        plan = Plan(validated.facts, {}, Outcome())
        skipped: list[int] = []
        applied: set[int] = set()
        at = 0
        for c in chosen:
            mark = self._partition(c, validated, at, plan.outcome, skipped, applied)
            at += len(c.kept)
            if mark is not None:
                plan.marks[c.partition] = mark
                self.pending[c.partition] = mark.position
        drop = set(skipped) - applied
        if drop:
            plan.drop = frozenset(drop)
            plan.facts = {p: [r for r in rows if r[0] not in drop] for p, rows in plan.facts.items()}
        if plan.outcome.applied and validated.newest_appended_us is not None:
            plan.outcome.newest_appended_at = EPOCH + timedelta(microseconds=validated.newest_appended_us)
        return plan

    def commit(self, plan: Plan) -> None:
        """Write the facts and move the positions in one transaction."""
        if plan.marks:
            write_batch(self.engine, plan.facts, plan.marks)
            self.committed(plan)

    def committed(self, plan: Plan) -> None:
        """The plan's positions are committed (here or by the helper process that wrote it)."""
        if plan.marks:
            for partition, mark in plan.marks.items():
                self.positions[partition] = (mark.position, mark.offset)
                if self.pending.get(partition) == mark.position:
                    del self.pending[partition]

    def _partition(
        self, c: Chosen, v: Validated, at: int, outcome: Outcome, skipped: list[int], applied: set[int]
    ) -> PartitionMark | None:
        top, offset, count = self.position(c.partition), -1, 0
        outcome.skipped += c.skipped
        positions, reasons = v.positions, v.reasons
        for i, (msg_offset, value, header) in enumerate(c.kept, at):
            position = positions[i]
            if (header is not None and header <= top) or (position and position <= top):
                outcome.skipped += 1  # a duplicate within this batch, or applied since `select`
                if position:
                    skipped.append(position)
                continue
            if not position:
                outcome.dead.append(DeadLetter(c.partition, msg_offset, value, reasons[i]))
                continue
            top, offset, count = position, msg_offset, count + 1
            applied.add(position)
        outcome.applied += count
        return PartitionMark(top, offset, count) if count else None
