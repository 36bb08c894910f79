"""Topics, created explicitly, and end offsets read from the FETCH high watermark.

Broker defect guards (../shared/BROKER.md, docs/design.md "Pipeline"):

* Tansu answers ListOffsets(LATEST) wrongly when the newest batch holds more than one record, so
  `end_offsets()`, `seek_to_end()` and any lag computed from them are off. `high_watermarks` fetches
  from every partition and reads `consumer.highwater(tp)`, which the fetch response carries
  correctly (also right on real Kafka). Nothing in casestream calls `end_offsets`.
* `offsets_for_times` looks up broker append time, so "as known at" replays come from the event
  store, never from the topic.
* Auto-created topics get 4 partitions here (1 or none on real Kafka): `ensure_topics` creates the
  case-events and dead-letter topics with the configured partition count and replication factor.
  Every client's metadata request auto-creates a missing topic, so after the embedded broker restarts
  empty, the worker's consumer may create case-events with 4 partitions before anyone calls
  `ensure_topics`. The per-partition positions of the read model hold only while an event always lands
  in the same partition, so `ensure_topics` reports the count it found, the relay sends by the
  configured count and never to a topic of another size (`services.kafka.producer.LayoutPartitioner`),
  and `recreate_topic` puts a lost, wrongly sized topic right (Tansu has no CreatePartitions).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.settings import Settings


class TopicLayoutError(KafkaError):  # type: ignore[misc]
    """The case-events topic has another partition count than the settings give."""


def layout_message(topic: str, found: int, wanted: int) -> str:
    return (
        f"topic {topic} has {found} partitions, the setting topic_partitions (CASESTREAM_TOPIC_PARTITIONS) "
        f"says {wanted}; the read model's positions hold for one partition count only"
    )


async def _counts(admin: AIOKafkaAdminClient) -> dict[str, int]:
    """{topic: partitions} of every topic. Every topic is described: a metadata request naming a
    missing topic would auto-create it with the broker's default count."""
    return {d["topic"]: len(d.get("partitions") or ()) for d in await admin.describe_topics()}


async def _count(admin: AIOKafkaAdminClient, topic: str) -> int:
    """Partitions of `topic` (0 when it is missing)."""
    return (await _counts(admin)).get(topic, 0)


async def ensure_topics(settings: Settings, options: dict[str, Any]) -> int:
    """Create the case-events (N partitions) and dead-letter (1 partition) topics if they are missing.

    Returns the partition count case-events has afterwards: N, unless it existed with another count
    (auto-created by a client's metadata request, or made by hand), which is the caller's to judge."""
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        existing = await _counts(admin)  # one metadata request when nothing is missing
        rf = settings.topic_replication_factor
        wanted = [
            NewTopic(settings.topic_case_events, settings.topic_partitions, rf),
            NewTopic(settings.topic_dead_letter, 1, rf),
        ]
        missing = [t for t in wanted if t.name not in existing]
        if not missing:
            return existing[settings.topic_case_events]
        with contextlib.suppress(TopicAlreadyExistsError):  # created meanwhile by another process
            await admin.create_topics(missing)
        return await _count(admin, settings.topic_case_events)
    finally:
        await admin.close()


async def recreate_topic(settings: Settings, options: dict[str, Any], attempts: int = 20) -> None:
    """Delete case-events and create it with the configured count: only for a topic whose messages may
    go (the relay refills it from the store). Another client's metadata request may auto-create it
    between the two steps, and real Kafka deletes in the background; then it is tried again, up to
    `attempts` times a quarter of a second apart."""
    topic, wanted = settings.topic_case_events, settings.topic_partitions
    admin = AIOKafkaAdminClient(**options)
    await admin.start()
    try:
        found = await _count(admin, topic)
        for attempt in range(attempts):
            if found == wanted:
                return
            if attempt:  # real Kafka deletes a topic in the background: give it time
                await asyncio.sleep(0.25)
            if found:
                await admin.delete_topics([topic])
            with contextlib.suppress(TopicAlreadyExistsError):  # auto-created again, or still being deleted
                await admin.create_topics([NewTopic(topic, wanted, settings.topic_replication_factor)])
            found = await _count(admin, topic)
        raise TopicLayoutError(
            layout_message(topic, found, wanted) + f"; still so after {attempts} re-creations"
        )
    finally:
        await admin.close()


async def high_watermarks(options: dict[str, Any], topic: str, timeout: float = 10.0) -> dict[int, int]:
    """{partition: high watermark} from a fetch of every partition (never ListOffsets)."""
    consumer = AIOKafkaConsumer(
        **options,
        enable_auto_commit=False,
        group_id=None,
        fetch_max_wait_ms=50,
        max_partition_fetch_bytes=1024,
    )
    await consumer.start()
    await asyncio.sleep(0)  # let the consumer's own tasks start, so stop() can cancel them cleanly
    try:
        parts = await _partitions(consumer, topic, timeout)
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(consumer.highwater(tp) is None for tp in tps):
            if loop.time() > deadline:
                raise TimeoutError(f"no fetch answer for every partition of {topic} within {timeout} s")
            await consumer.getmany(timeout_ms=100, max_records=1)
        return {tp.partition: int(consumer.highwater(tp) or 0) for tp in tps}
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str, timeout: float) -> list[int]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            return sorted(parts)
        if loop.time() > deadline:
            raise TimeoutError(f"topic {topic} has no partitions (not created?)")
        await consumer.topics()  # a metadata request: refreshes the partition list
        await asyncio.sleep(0.05)
