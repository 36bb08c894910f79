"""The worker's Kafka plumbing: consumer settings, dead letters, batch metrics, stopping clients quietly."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord

from services.kafka.producer import REASON_HEADER
from services.settings import Settings
from services.worker.projector import DeadLetter, Plan

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics

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
        # A broker that came back empty gets its topics again from whoever starts first (relay, worker);
        # a partition count that changed meanwhile must reach the group soon, not after the default 5 min.
        "metadata_max_age_ms": 5000,
    }


async def send_dead_letters(producer: AIOKafkaProducer, topic: str, dead: list[DeadLetter]) -> None:
    """Send the batch's dead letters, retrying while the broker is away (the batch commits only after
    they are acknowledged; a retry may send one twice: at least once, like every topic here)."""
    for d in dead:
        log.warning("dead letter from partition %d offset %d: %s", d.partition, d.offset, d.reason)
    delay = 0.2
    while True:
        try:
            futures = [
                await producer.send(topic, d.value or b"", headers=_headers(d))
                for d in dead
            ]
            await asyncio.gather(*futures)
            return
        except KafkaError as exc:
            log.warning("dead letters not acknowledged (%r); retrying in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


async def quietly(stopping: Awaitable[None]) -> None:
    try:
        await stopping
    except Exception as exc:  # a client that never started, or a broker gone: nothing left to release
        log.info("stopping a Kafka client: %r", exc)


def _headers(d: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        (REASON_HEADER, d.reason.encode()[:2000]),
        ("source_partition", str(d.partition).encode()),
        ("source_offset", str(d.offset).encode()),
    ]


def record_metrics(
    metrics: PipelineMetrics,
    consumer: AIOKafkaConsumer,
    topic: str,
    batch: dict[int, list[ConsumerRecord]],
    plan: Plan,
) -> None:
    """Counts, dead letters by reason, lag = fetch high watermark - next offset (never ListOffsets)."""
    out = plan.outcome
    for d in out.dead:
        metrics.dead_lettered(d.kind)
    if out.applied:
        last = max(plan.marks.items(), key=lambda kv: kv[1].position, default=None)
        metrics.projected(
            "bundle",
            out.applied,
            newest_appended_at=out.newest_appended_at,
            partition=last[0] if last else None,
            position=last[1].position if last else None,
        )
    for partition, records in batch.items():
        high = consumer.highwater(TopicPartition(topic, partition))
        if high is not None and records:
            metrics.lag(topic, partition, high, records[-1].offset + 1)
