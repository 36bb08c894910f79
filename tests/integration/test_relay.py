"""The relay on the real embedded broker: order, keys, headers, resume after a crash, refill when empty."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
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
