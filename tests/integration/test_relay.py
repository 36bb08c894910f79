"""The relay on the real embedded broker: order, keys, headers, resume after a crash, refill when empty."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from sqlalchemy.engine import Engine

from services.kafka.broker import EmbeddedBroker, client_options
from services.kafka.producer import header_position
from services.kafka.relay import Relay
from services.kafka.topics import high_watermarks
from services.readmodel.persist import open_readmodel, relay_position
from services.settings import Settings
from services.store import open_store
from services.store.base import EventStore
from tests.integration.pipeline_kit import history

SETTINGS = Settings(relay_batch_size=300, relay_poll_interval=0.05)
TOPIC = SETTINGS.topic_case_events


async def _run_until(relay: Relay, done: asyncio.Future[None] | None = None, *, head: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    for _ in range(600):
        if relay.published >= head:
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 20)


async def _read_all(options: dict) -> list[tuple[int, int, bytes, int | None]]:
    """(partition, offset, key, position header) of every message of the topic."""
    ends = await high_watermarks(options, TOPIC)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)
    out = []
    try:
        tps = [TopicPartition(TOPIC, p) for p in ends]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        while len(out) < sum(ends.values()):
            for tp, recs in (await consumer.getmany(timeout_ms=500)).items():
                out += [(tp.partition, r.offset, r.key, header_position(r.headers)) for r in recs]
    finally:
        await consumer.stop()
    return out


def _setup(tmp_path: Path, n: int) -> tuple[EventStore, Engine]:
    store = open_store("memory://")
    store.append(history(11, n))
    return store, open_readmodel(f"sqlite:///{tmp_path}/rm.db")


def test_relay_publishes_in_position_order_keyed_by_stream(tmp_path: Path) -> None:
    store, engine = _setup(tmp_path, 1200)
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        options = client_options(SETTINGS, broker.bootstrap)
        asyncio.run(_run_until(Relay(store, engine, SETTINGS, options), head=store.head()))
        messages = asyncio.run(_read_all(options))
    assert sorted(m[3] for m in messages) == list(range(1, store.head() + 1))
    by_partition: dict[int, list[int]] = defaultdict(list)
    partition_of_stream: dict[bytes, int] = {}
    for partition, _, key, pos in sorted(messages, key=lambda m: (m[0], m[1])):
        by_partition[partition].append(pos)
        assert partition_of_stream.setdefault(key, partition) == partition  # one stream, one partition
    for positions in by_partition.values():
        assert positions == sorted(positions)
    assert relay_position(engine, TOPIC) == store.head()


def test_relay_resumes_after_a_crash_and_refills_an_empty_broker(tmp_path: Path) -> None:
    store, engine = _setup(tmp_path, 900)
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        options = client_options(SETTINGS, broker.bootstrap)
        asyncio.run(_run_until(Relay(store, engine, SETTINGS, options), head=400))
        first = relay_position(engine, TOPIC)
        assert first >= 400
        # a new relay process (crash and restart): continues after its stored position, loses nothing
        asyncio.run(_run_until(Relay(store, engine, SETTINGS, options), head=store.head()))
        positions = {m[3] for m in asyncio.run(_read_all(options))}
        assert positions == set(range(1, store.head() + 1))
        port = broker.port
    # the broker comes back empty (in-memory storage) on the same port: the relay refills it by itself
    with EmbeddedBroker(tmp_path / "broker2.log", port=port) as broker:
        relay = Relay(store, engine, SETTINGS, options)
        asyncio.run(_run_until(relay, head=store.head()))
        assert relay.refills == 1
        positions = [m[3] for m in asyncio.run(_read_all(options))]
    assert sorted(positions) == list(range(1, store.head() + 1))


def test_relay_survives_a_broker_restart_while_running(tmp_path: Path) -> None:
    store, engine = _setup(tmp_path, 600)
    log = tmp_path / "broker.log"

    async def scenario() -> Relay:
        broker = EmbeddedBroker(log).start()
        options = client_options(SETTINGS, broker.bootstrap)
        relay = Relay(store, engine, SETTINGS, options)
        stop = asyncio.Event()
        task = asyncio.create_task(relay.run(stop))
        while relay.published < store.head():
            await asyncio.sleep(0.05)
        broker.stop()
        await asyncio.sleep(1.0)
        broker = EmbeddedBroker(log, port=broker.port).start()  # empty again
        more = history(12, 300)
        store.append(more)
        try:
            for _ in range(600):
                if relay.published >= store.head() and relay.refills >= 1:
                    break
                await asyncio.sleep(0.05)
            stop.set()
            await asyncio.wait_for(task, 20)
            relay.seen = await _read_all(options)  # type: ignore[attr-defined]
        finally:
            broker.stop()
        return relay

    relay = asyncio.run(scenario())
    assert relay.refills >= 1
    assert {m[3] for m in relay.seen} == set(range(1, store.head() + 1))  # type: ignore[attr-defined]


async def _auto_create(options: dict, keys: list[bytes]) -> None:
    """What any client's metadata request does to a missing topic on Tansu: creates it with 4 partitions;
    then one message per key to partition 0 (a send in flight when the broker came back)."""
    producer = AIOKafkaProducer(**options)
    await producer.start()
    try:
        assert await producer.partitions_for(TOPIC) == {0, 1, 2, 3}
        for key in keys:
            await producer.send_and_wait(TOPIC, b"{}", key=key, partition=0)
    finally:
        await producer.stop()


def test_a_lost_topic_auto_created_with_another_count_is_recreated_and_every_event_keeps_its_partition(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, engine = _setup(tmp_path, 900)
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        options = client_options(SETTINGS, broker.bootstrap)
        asyncio.run(_run_until(Relay(store, engine, SETTINGS, options), head=store.head()))
        before = {m[3]: m[0] for m in asyncio.run(_read_all(options))}
        port = broker.port
    with EmbeddedBroker(tmp_path / "broker2.log", port=port) as broker:
        asyncio.run(_auto_create(options, [b"case:x", b"case:y"]))
        relay = Relay(store, engine, SETTINGS, options)
        with caplog.at_level(logging.WARNING, "casestream.relay"):
            asyncio.run(_run_until(relay, head=store.head()))
        after = asyncio.run(_read_all(options))
    assert (
        "has 4 partitions" in caplog.text and "holds 2 messages of 900 published: re-creating" in caplog.text
    )
    assert relay.refills == 1
    assert sorted(m[3] for m in after) == list(range(1, store.head() + 1))  # the two strays went with it
    assert {m[3]: m[0] for m in after} == before  # the same partition as the first time: positions hold


def test_a_topic_of_another_size_that_may_be_whole_is_left_alone_and_said_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store, engine = _setup(tmp_path, 50)  # never published: a topic holding anything may be someone's
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        options = client_options(SETTINGS, broker.bootstrap)
        asyncio.run(_auto_create(options, [b"case:x"]))

        async def scenario() -> Relay:
            relay = Relay(store, engine, SETTINGS, options)
            stop = asyncio.Event()
            task = asyncio.create_task(relay.run(stop))
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.wait_for(task, 20)
            return relay

        with caplog.at_level(logging.ERROR, "casestream.relay"):
            relay = asyncio.run(scenario())
        left = asyncio.run(_read_all(options))
    assert relay.published == 0 and relay_position(engine, TOPIC) == 0
    assert [(m[0], m[2]) for m in left] == [(0, b"case:x")]  # not deleted, nothing added
    assert "case-events has 4 partitions" in caplog.text
    assert "holds 1 messages, no fewer than were published, so it is left as it is" in caplog.text
