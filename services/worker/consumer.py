"""The hot path: an aiokafka batch consumer in its own group, handing whole fetched batches to the projector.

Faust's per-message stream machinery costs ~140 µs a message (../shared/BROKER.md), so the worker reads
the topic with `getmany` and gives every batch to the ONE projector step (`services.worker.projector`;
by default validated and written in the helper of `writer.py`), facts and positions in one
transaction. Kafka offsets are never committed: the position table is the consumer's progress.

On every partition assignment (start, rebalance with N workers, rejoin after a broker restart) the
positions are reloaded and each partition is sought to its offset hint, the offset of the last
applied message. The hint is trusted only if the message found there carries the stored position;
otherwise (a refilled, re-numbered topic) the partition is read from offset 0 and the projector
skips what is at or below its position.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from services.kafka.producer import header_position, make_producer
from services.kafka.topics import ensure_topics
from services.settings import Settings

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics
from services.worker.health import watch_broker
from services.worker.kafka_io import consumer_options, quietly, record_metrics, send_dead_letters
from services.worker.projector import Chosen, Outcome, Plan, Projector
from services.worker.validating import Pending, Validator, tune_gc
from services.worker.writer import HelperWriter, InHelper, start_helpers

log = logging.getLogger("casestream.worker")


@dataclass
class _Selected:
    """A fetched batch past the position check by header, its validation running."""

    batch: dict[int, list[ConsumerRecord]]
    chosen: list[Chosen]
    validating: Pending | None  # validated here and by helpers that send the rows back, or
    helper: InHelper | None  # by the helper that writes (and the worker, for its share)
    generation: int  # of the assignment it was fetched under

    def cancel(self) -> None:
        if self.validating is not None:
            self.validating.cancel()


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner.generation += 1  # a batch selected before this is dropped (fetched again by its owner)
        inflight = self.owner._inflight
        if inflight:  # committed before another member may take the partitions
            await asyncio.shield(asyncio.gather(*inflight, return_exceptions=True))
        self.owner.verify.clear()

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self.owner.seek_assigned(assigned)


class BatchConsumer:
    def __init__(
        self,
        projector: Projector,
        settings: Settings,
        options: dict[str, Any],
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.metrics = metrics
        self.projector, self.settings, self.options = projector, settings, options
        self.topic = settings.topic_case_events
        self.verify: dict[TopicPartition, tuple[int, int]] = {}  # tp -> (offset hint, position) to check
        self.totals = Outcome()
        self.batches = 0
        self.consumer: AIOKafkaConsumer | None = None
        self.generation = 0  # assignments seen: a batch selected under an older one is dropped
        self.validator: Validator | None = None
        self.writer: HelperWriter | None = None  # the helper that validates and writes (the default)
        self._inflight: list[asyncio.Future[None]] = []  # commits in flight, oldest first

    async def seek_assigned(self, assigned: Any) -> None:
        self.generation += 1
        await asyncio.to_thread(self.projector.reload)
        assert self.consumer is not None
        for tp in set(assigned) & self.consumer.assignment():  # unchanged while positions were read
            hint = self.projector.offset_hint(tp.partition)
            if hint >= 0:
                self.verify[tp] = (hint, self.projector.position(tp.partition))
                self.consumer.seek(tp, hint)
            else:
                self.consumer.seek(tp, 0)
        log.info("assigned %s", sorted(tp.partition for tp in assigned))

    def _checked(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> dict[int, list[ConsumerRecord]]:
        out: dict[int, list[ConsumerRecord]] = {}
        for tp, records in batch.items():
            expected = self.verify.pop(tp, None)
            if expected is not None and records:
                first = records[0]
                if (first.offset, header_position(first.headers)) != expected:
                    log.warning(
                        "partition %d: offset hint %d does not hold position %d; reading from 0",
                        tp.partition,
                        *expected,
                    )
                    assert self.consumer is not None
                    self.consumer.seek(tp, 0)
                    continue
            out[tp.partition] = records
        return out

    async def run(self, stop: asyncio.Event) -> None:
        """One consumer session (a Kafka error ends it; the caller starts another). The validating helpers
        outlive a session and are closed when the worker stops."""
        s = self.settings  # the helper(s) spawn and warm up while the group join takes its seconds
        self.validator, self.writer = start_helpers(
            s.worker_decode_processes, s.worker_helper_writes, self.projector.engine, self.projector.key
        )
        found = await ensure_topics(self.settings, self.options)  # a restarted, empty broker: created right
        if found != s.topic_partitions:  # auto-created by a client first: the relay re-creates it
            log.warning("topic %s has %d partitions, %d configured", self.topic, found, s.topic_partitions)
        opts = consumer_options(self.settings, self.options, self.settings.worker_group)
        self.consumer = consumer = AIOKafkaConsumer(**opts)
        consumer.subscribe([self.topic], listener=_Seeker(self))
        dead_producer = make_producer(self.options)
        health: asyncio.Future[None] | None = None
        try:  # everything started is stopped: a consumer left running would hold partitions in the group
            await consumer.start()
            await dead_producer.start()
            tune_gc()
            health = asyncio.ensure_future(watch_broker(consumer, self.metrics))
            await self._loop(stop, dead_producer)
        finally:
            if health is not None:
                health.cancel()
            await quietly(consumer.stop())
            await quietly(dead_producer.stop())
        for helper in (self.validator, self.writer):
            if helper is not None:
                helper.close()
        self.validator = self.writer = None

    async def _loop(self, stop: asyncio.Event, dead_producer: AIOKafkaProducer) -> None:
        """Fetch, select and start validating batch k+1 while batch k is assembled and committed."""
        assert self.consumer is not None
        selected: _Selected | None = None
        try:
            while not stop.is_set():
                batch = await self.consumer.getmany(
                    timeout_ms=500 if selected is None else 0, max_records=self.settings.worker_batch_max
                )
                following = self._select(self._checked(batch)) if batch else None
                if selected is not None:
                    await self._handle(selected, dead_producer)
                selected = following
            if selected is not None:
                await self._handle(selected, dead_producer)
            await self._reap(0)
        finally:
            if selected is not None:
                selected.cancel()
            if self._inflight:  # a failed session: let the commits in flight end before the helper does
                await asyncio.gather(*self._inflight, return_exceptions=True)
                self._inflight = []

    def _select(self, batch: dict[int, list[ConsumerRecord]]) -> _Selected | None:
        if not batch:
            return None
        chosen = self.projector.select(batch)
        chunks = [c.chunk for c in chosen]
        if self.writer is not None:
            return _Selected(batch, chosen, None, self.writer.start(chunks), self.generation)
        assert self.validator is not None
        return _Selected(batch, chosen, self.validator.start(chunks), None, self.generation)

    async def _handle(self, selected: _Selected, dead_producer: AIOKafkaProducer) -> None:
        ready = True
        if selected.helper is not None:
            assert self.writer is not None
            decoded, ready = await self.writer.finish(selected.helper)
        else:
            assert self.validator is not None and selected.validating is not None
            decoded = await self.validator.finish(selected.validating)
        if selected.generation != self.generation:
            return self._dropped(selected)
        plan = self.projector.assemble(selected.chosen, decoded)
        if plan.outcome.dead:  # sent before the commit: a crash re-sends them, never loses one
            await send_dead_letters(dead_producer, self.settings.topic_dead_letter, plan.outcome.dead)
            if selected.generation != self.generation:  # revoked meanwhile: not ours to commit now
                return self._dropped(selected)
        if selected.helper is not None:
            await self._commit_in_helper(selected, plan, ready)
        else:
            await self._commit_here(selected, plan)

    def _dropped(self, selected: _Selected) -> None:
        log.info("assignment changed while validating a batch: dropped, it is read again")
        if selected.helper is not None and self.writer is not None:
            self.writer.discard(selected.helper.number)

    async def _commit_in_helper(self, selected: _Selected, plan: Plan, ready: bool) -> None:
        """The helper writes the batch (its rows and the worker's, `plan.facts`) while the next one is
        fetched: at most one commit in flight beside the one just asked for, run in order."""
        assert self.writer is not None and selected.helper is not None
        written = self.writer.commit(selected.helper.number, plan.marks, plan.drop, plan.facts)
        self._inflight.append(asyncio.ensure_future(self._after(written, selected, plan)))
        self.writer.adapt(not ready or (not self._inflight[0].done() and len(self._inflight) > 1))
        await self._reap(1)

    async def _after(self, written: asyncio.Future[None], selected: _Selected, plan: Plan) -> None:
        await written
        self.projector.committed(plan)
        self._count(selected, plan)

    async def _reap(self, keep: int) -> None:
        """Raise a failed commit's error; wait until at most `keep` commits are in flight."""
        while self._inflight and (self._inflight[0].done() or len(self._inflight) > keep):
            oldest = self._inflight[0]
            try:
                await asyncio.shield(oldest)
            finally:
                if oldest.done():
                    self._inflight.pop(0)

    async def _commit_here(self, selected: _Selected, plan: Plan) -> None:
        """In a thread the loop awaits at once: heartbeats and lock waits go on (design.md "Pipeline")."""
        inflight = asyncio.ensure_future(asyncio.to_thread(self.projector.commit, plan))
        self._inflight.append(inflight)
        try:
            await asyncio.shield(inflight)
        finally:
            self._inflight.remove(inflight)
        self._count(selected, plan)

    def _count(self, selected: _Selected, plan: Plan) -> None:
        outcome = plan.outcome
        self.totals.applied += outcome.applied
        self.totals.skipped += outcome.skipped
        self.totals.dead.extend(outcome.dead[-100:])
        self.batches += 1
        if self.metrics is not None:
            assert self.consumer is not None
            record_metrics(self.metrics, self.consumer, self.topic, selected.batch, plan)
