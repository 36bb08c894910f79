"""The relay's partitioner: Kafka's key partitioning over the configured count, or a clear refusal."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2

from services.kafka.producer import LayoutPartitioner
from services.kafka.topics import TopicLayoutError


def test_it_places_every_key_where_kafkas_default_partitioner_does() -> None:
    rng = random.Random(5)
    keys = [f"case:{rng.getrandbits(64):x}".encode() for _ in range(500)]
    partitioner = LayoutPartitioner("case-events", 6)
    placed = [partitioner(k, list(range(6)), list(range(6))) for k in keys]
    assert placed == [DefaultPartitioner()(k, list(range(6)), list(range(6))) for k in keys]
    assert placed == [(murmur2(k) & 0x7FFFFFFF) % 6 for k in keys]  # what a Java client computes too
    assert set(placed) == set(range(6))


def test_a_topic_of_another_size_is_refused_with_both_counts_and_the_setting() -> None:
    partitioner = LayoutPartitioner("case-events", 6)
    with pytest.raises(TopicLayoutError) as caught:
        partitioner(b"case:1", [0, 1, 2, 3], [0, 1, 2, 3])
    text = str(caught.value)
    assert (
        "case-events has 4 partitions" in text and "says 6" in text and "CASESTREAM_TOPIC_PARTITIONS" in text
    )


def test_a_message_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="needs a key"):
        LayoutPartitioner("case-events", 2)(None, [0, 1], [0, 1])
