"""Poison messages on case-events land in the dead-letter topic with a reason; the stream goes on."""

from __future__ import annotations

import asyncio
import urllib.request
from pathlib import Path

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from events import encode
from services.kafka.broker import EmbeddedBroker, client_options, free_port
from services.kafka.producer import make_producer
from services.kafka.topics import ensure_topics, high_watermarks
from services.readmodel.persist import open_readmodel
from services.readmodel.source import bundle_from_readmodel
from services.reports import bundle_from_store
from services.settings import Settings
from services.store import open_store
from tests.integration.pipeline_kit import Pipeline, assert_same_bundle, caught_up, history, wait_for

SETTINGS = Settings()


def _poison(valid: bytes) -> list[tuple[bytes | None, list[tuple[str, bytes]]]]:
    broken = orjson.loads(valid)
    broken["data"]["price_sek"] = "a lot"
    broken["position"] = 10**9
    return [
        (b"not json at all {", []),
        (orjson.dumps({"type": "no.such.type", "version": 1}), []),
        (orjson.dumps(broken), [("position", str(10**9).encode())]),
        (b"[1, 2, 3]", [("position", b"garbage")]),
    ]


async def _inject(options: dict, messages: list[tuple[bytes | None, list[tuple[str, bytes]]]]) -> None:
    producer = make_producer(options)
    await producer.start()
    try:
        for value, headers in messages:
            await producer.send_and_wait(SETTINGS.topic_case_events, value, key=b"poison", headers=headers)
    finally:
        await producer.stop()


async def _dead_letters(options: dict) -> list[tuple[bytes, dict[str, bytes]]]:
    ends = await high_watermarks(options, SETTINGS.topic_dead_letter)
    consumer = AIOKafkaConsumer(**options, enable_auto_commit=False)
    await consumer.start()
    await asyncio.sleep(0)
    out: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        tp = TopicPartition(SETTINGS.topic_dead_letter, 0)
        consumer.assign([tp])
        consumer.seek(tp, 0)
        while len(out) < ends[0]:
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                out += [(r.value, dict(r.headers)) for r in recs]
    finally:
        await consumer.stop()
    return out


def test_poison_messages_go_to_the_dead_letter_topic_and_the_stream_goes_on(tmp_path: Path) -> None:
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        pipeline = Pipeline(tmp_path, broker.bootstrap)
        options = client_options(SETTINGS, broker.bootstrap)
        asyncio.run(ensure_topics(SETTINGS, options))
        store = open_store(pipeline.store_url)
        store.append(history(31, 600))
        try:
            relay_port, worker_port = free_port(), free_port()
            pipeline.relay("--metrics-port", str(relay_port))
            pipeline.worker(0, "--metrics-port", str(worker_port))
            engine = open_readmodel(pipeline.readmodel_url)
            wait_for(caught_up(engine, store.head()), 90, "the first events", pipeline)
            first = next(iter(store.read_all(limit=1)))
            asyncio.run(_inject(options, _poison(encode(first))))
            store.append(history(32, 400))
            wait_for(caught_up(engine, store.head()), 60, "the events after the poison", pipeline)
            wait_for(
                lambda: sum(asyncio.run(high_watermarks(options, SETTINGS.topic_dead_letter)).values()) >= 4,
                30,
                "four dead letters",
                pipeline,
            )
            dead = asyncio.run(_dead_letters(options))
            worker_metrics = _scrape(worker_port)
            relay_metrics = _scrape(relay_port)
            assert all(p.popen is not None and p.popen.poll() is None for p in pipeline.procs)
        finally:
            pipeline.stop_all()
    assert len(dead) == 4
    reasons = [h["reason"].decode() for _, h in dead]
    assert "not valid JSON" in reasons[0]
    assert "unknown event type" in reasons[1]
    assert "data.price_sek" in reasons[2]
    assert "must be a JSON object" in reasons[3]
    assert dead[0][0] == b"not json at all {"
    assert_same_bundle(bundle_from_readmodel(engine), bundle_from_store(store))
    assert worker_metrics['casestream_events_dead_lettered_total{reason="decode_error"}'] == 2
    assert worker_metrics['casestream_events_dead_lettered_total{reason="validation_error"}'] == 2
    assert worker_metrics['casestream_events_projected_total{projection="bundle"}'] == store.head()
    lags = [v for k, v in worker_metrics.items() if k.startswith("casestream_consumer_lag_messages{")]
    assert lags and all(v == 0 for v in lags)  # caught up, read off the fetch high watermark
    assert relay_metrics["casestream_events_published_total"] >= store.head()


def _scrape(port: int) -> dict[str, float]:
    """{'name{labels}': value} of a /metrics page (labels as printed)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out
