"""The hot path: an aiokafka batch consumer in its own group, handing whole fetched batches to the projector.

Faust's per-message stream machinery costs ~140 µs a message (../shared/BROKER.md), so the worker
reads the case-events topic with `getmany` and gives every batch to the ONE projector step
(`services.worker.projector`), which commits read model and positions together. Kafka offsets are
never committed: the read model's position table is the consumer's progress.

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
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from services.kafka.producer import REASON_HEADER, header_position, make_producer
from services.settings import Settings

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics
from services.worker.health import watch_broker
from services.worker.projector import Chosen, DeadLetter, Outcome, Plan, Projector
from services.worker.validating import Pending, Validator, tune_gc

log = logging.getLogger("casestream.worker")


def consumer_options(settings: Settings, options: dict[str, Any], group: str) -> dict[str, Any]:
    """Group and fetch settings from `Settings` (session 6 s, heartbeat 1 s, rebalance 12 s on Tansu)."""
    return {
        **options,
        "group_id": group,
        "enable_auto_commit": False,
        "auto_offset_reset": settings.consumer_auto_offset_reset,
        "session_timeout_ms": int(settings.broker_session_timeout * 1000),
        "heartbeat_interval_ms": int(settings.broker_heartbeat_interval * 1000),
        "rebalance_timeout_ms": int(settings.broker_rebalance_timeout * 1000),
        "max_poll_records": settings.worker_batch_max,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "max_partition_fetch_bytes": 8 * 1024 * 1024,
        "fetch_max_wait_ms": 200,
    }


@dataclass
class _Selected:
    """A fetched batch past the position check by header, its validation running."""

    batch: dict[int, list[ConsumerRecord]]
    chosen: list[Chosen]
    validating: Pending
    generation: int  # of the assignment it was fetched under


class _Seeker(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: BatchConsumer) -> None:
        self.owner = owner

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.owner.generation += 1  # a batch selected before this is dropped (fetched again by its owner)
        inflight = self.owner._inflight
        if inflight is not None:  # committed before another member may take the partitions
            await asyncio.shield(inflight)
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
        self._inflight: asyncio.Future[None] | None = None  # the commit being awaited

    async def seek_assigned(self, assigned: Any) -> None:
        self.generation += 1
        await asyncio.to_thread(self.projector.reload)
        assert self.consumer is not None
        for tp in assigned:
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
        """Fetch, select and start validating batch k+1 while batch k is assembled and committed."""
        opts = consumer_options(self.settings, self.options, self.settings.worker_group)
        self.consumer = AIOKafkaConsumer(**opts)
        self.consumer.subscribe([self.topic], listener=_Seeker(self))
        self.validator = validator = Validator(self.settings.worker_decode_processes)
        validator.warm()  # spawn and warm the helpers while the group join takes its seconds
        dead_producer = make_producer(self.options)
        await self.consumer.start()
        await dead_producer.start()
        tune_gc()
        health = asyncio.ensure_future(watch_broker(self.consumer, self.metrics))
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
        finally:
            health.cancel()
            if selected is not None:
                selected.validating.cancel()
            validator.close()
            await self.consumer.stop()
            await dead_producer.stop()

    def _select(self, batch: dict[int, list[ConsumerRecord]]) -> _Selected | None:
        if not batch:
            return None
        chosen = self.projector.select(batch)
        assert self.validator is not None
        pending = self.validator.start([c.chunk for c in chosen])
        return _Selected(batch, chosen, pending, self.generation)

    async def _handle(self, selected: _Selected, dead_producer: AIOKafkaProducer) -> None:
        assert self.validator is not None
        decoded = await self.validator.finish(selected.validating)
        if selected.generation != self.generation:
            log.info("assignment changed while validating a batch: dropped, it is read again")
            return
        plan = self.projector.assemble(selected.chosen, decoded)
        outcome = plan.outcome
        if outcome.dead:  # sent before the commit: a crash re-sends them, never loses one
            await self._dead_letters(outcome.dead, dead_producer)
        # Committed in a thread that the loop awaits at once: the loop stays free for heartbeats, the web
        # page and a lock wait (another worker's commit, a rebuild's switch), and no Python work of
        # the worker runs beside the commit — a commit thread overlapping it had to win the GIL back
        # for every row it bound (measured 9-10 µs per event in that thread, ~5 µs for the inserts alone).
        self._inflight = asyncio.ensure_future(asyncio.to_thread(self.projector.commit, plan))
        try:
            await asyncio.shield(self._inflight)
        finally:
            self._inflight = None
        self.totals.applied += outcome.applied
        self.totals.skipped += outcome.skipped
        self.totals.dead.extend(outcome.dead[-100:])
        self.batches += 1
        if self.metrics is not None:
            self._measure(selected.batch, plan)

    def _measure(self, batch: dict[int, list[ConsumerRecord]], plan: Plan) -> None:
        """Counts, dead letters by reason, lag = fetch high watermark - next offset (never ListOffsets)."""
        assert self.metrics is not None and self.consumer is not None
        out = plan.outcome
        for d in out.dead:
            self.metrics.dead_lettered(d.kind)
        if out.applied:
            last = max(plan.marks.items(), key=lambda kv: kv[1].position, default=None)
            self.metrics.projected(
                "bundle",
                out.applied,
                newest_appended_at=out.newest_appended_at,
                partition=last[0] if last else None,
                position=last[1].position if last else None,
            )
        for partition, records in batch.items():
            high = self.consumer.highwater(TopicPartition(self.topic, partition))
            if high is not None and records:
                self.metrics.lag(self.topic, partition, high, records[-1].offset + 1)

    async def _dead_letters(self, dead: list[DeadLetter], producer: AIOKafkaProducer) -> None:
        """Send the batch's dead letters, retrying while the broker is away (the batch commits only after
        they are acknowledged; a retry may send one twice: at least once, like every topic here)."""
        for d in dead:
            log.warning("dead letter from partition %d offset %d: %s", d.partition, d.offset, d.reason)
        delay = 0.2
        while True:
            try:
                futures = [
                    await producer.send(self.settings.topic_dead_letter, d.value or b"", headers=_headers(d))
                    for d in dead
                ]
                await asyncio.gather(*futures)
                return
            except KafkaError as exc:
                log.warning("dead letters not acknowledged (%r); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def _headers(d: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        (REASON_HEADER, d.reason.encode()[:2000]),
        ("source_partition", str(d.partition).encode()),
        ("source_offset", str(d.offset).encode()),
    ]
