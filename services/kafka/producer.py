"""The Kafka producer and the message format of the case-events topic.

A message is one event: key = stream id (so a stream's events stay in order on one partition), value =
the store's canonical JSON of the event including its global `position`, and the header `position`
(decimal ASCII) so a consumer can skip a duplicate without decoding the value (CONVENTIONS §5).

Broker defect guard: Tansu fails InitProducerId, so transactions and the idempotent producer are
never used (`producer_options` forces `enable_idempotence=False` and sets no `transactional_id`);
delivery is at least once and the projections are position-checked instead.
"""

from __future__ import annotations

from typing import Any, Final

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from events import Event, encode
from services.kafka.topics import TopicLayoutError, layout_message

POSITION_HEADER: Final = "position"
REASON_HEADER: Final = "reason"


class UnsafeProducerSettings(ValueError):
    """Producer options asked for transactions or idempotence, which the embedded broker cannot serve."""


def producer_options(options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Client options plus tuned, at-least-once producer settings (acks from all in-sync replicas)."""
    if extra.get("enable_idempotence") or extra.get("transactional_id"):
        raise UnsafeProducerSettings(
            "transactions / idempotent producer fail at InitProducerId on Tansu; "
            "casestream uses at-least-once delivery with position-checked projections"
        )
    out = {
        **options,
        "acks": "all",
        "linger_ms": 5,
        "max_batch_size": 256 * 1024,
        "compression_type": None,
        "request_timeout_ms": 10_000,
        "retry_backoff_ms": 200,
    }
    out.update(extra)
    out["enable_idempotence"] = False
    return out


def make_producer(options: dict[str, Any], **extra: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(**producer_options(options, **extra))


class LayoutPartitioner:
    """Kafka's default partitioning by key (murmur2, as every Kafka client does) for a topic of exactly
    `count` partitions; a topic of another size (auto-created after an empty broker restart, see
    `services.kafka.topics`) raises `TopicLayoutError` from `send`, so an event never lands in another
    partition than its earlier copies and the consumers' per-partition positions stay exact."""

    def __init__(self, topic: str, count: int) -> None:
        self.topic, self.count = topic, count
        self._default = DefaultPartitioner()  # called once a message: made once

    def __call__(self, key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
        if len(all_partitions) != self.count:
            raise TopicLayoutError(layout_message(self.topic, len(all_partitions), self.count))
        if key is None:
            raise ValueError(f"a message to {self.topic} needs a key (its stream id)")
        partition: int = self._default(key, all_partitions, available)
        return partition


def message_of(event: Event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of a stored event (it must carry its position)."""
    if event.position is None:
        raise ValueError(f"event {event.event_id} has no store position; only stored events are published")
    return event.stream_id.encode(), encode(event), [(POSITION_HEADER, str(event.position).encode())]


def header_position(headers: Any) -> int | None:
    """The `position` header as an int, or None when absent or not a positive integer."""
    for name, value in headers or ():
        if name == POSITION_HEADER:
            try:
                pos = int(value)
            except (TypeError, ValueError):
                return None
            return pos if pos > 0 else None
    return None
