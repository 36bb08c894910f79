"""`casestream bench pipeline`: consumer-side throughput of the live pipeline, in one run on one broker.

The topic is filled once with N case events (~350-450 B, positions 1..N, keyed by stream, the relay's
message format: `position` header and the relay's `signature` header, signed with a bench key that
the workers get as CASESTREAM_PIPELINE_SIGNING_KEY) over P partitions; then each path reads all of it
with a fresh consumer group:

* raw — an aiokafka `getmany` loop with orjson decode only (the ceiling);
* worker x1 / x2 — `python -m services.worker` processes (Faust app + batch projector), from topic to
  committed read model (fresh SQLite read model per run); every message verifies, so this is the
  signed-origin path (`services.readmodel.signed`), as with the relay's messages;
* faust agent — the same projector step behind a stock Faust agent with `stream.take_events(1000)`.

Rates count from the first applied message to the last (group joins excluded); ratios are to raw.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from aiokafka import AIOKafkaConsumer
from rich.console import Console
from rich.table import Table

from services.kafka.broker import EmbeddedBroker, client_options
from services.kafka.producer import POSITION_HEADER, make_producer
from services.kafka.signing import SIGNATURE_HEADER, sign
from services.kafka.topics import ensure_topics
from services.readmodel.persist import open_readmodel
from services.readmodel.source import applied_totals
from services.settings import Settings

_PERSON = {"person": "pers-0001", "target_group": "children"}
TEMPLATES: tuple[tuple[str, int, dict[str, Any]], ...] = (
    (
        "placement.started",
        2,
        {"case_id": None, "category": "institution", "legal_basis": "SoL", "placement_id": "",
         "price_sek": 2500, "price_unit": "day", "regime": "purchased", "sex": "unknown", "unit_id": None,
         **_PERSON},
    ),
    (
        "case.actualised",
        1,
        {"birth_year": None, "channel": "report", "reporter_category": None, "sex": "unknown", **_PERSON},
    ),
    ("investigation.opened", 1, {"investigation_id": "", **_PERSON}),
    ("placement.ended", 1, {"placement_id": "", "reason": "planned"}),
)


def bench_messages(n: int, seed: int = 1) -> list[tuple[bytes, bytes, int]]:
    """(key, value, position) of n valid stored events of the four commonest kinds."""
    rng = random.Random(seed)
    out = []
    for pos in range(1, n + 1):
        etype, version, data = TEMPLATES[pos % len(TEMPLATES)]
        stream = f"placement:b{pos // 8}" if etype.startswith("placement") else f"case:b{pos // 4}"
        body = dict(data)
        for key in ("placement_id", "investigation_id"):
            if key in body:
                body[key] = stream if key == "placement_id" else f"inv-{pos}"
        day = f"2021-{1 + pos % 12:02d}-{1 + pos % 28:02d}"
        event = {
            "data": body,
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "municipality": "1880",
            "occurred_at": day,
            "recorded_at": day + "T08:00:00+01:00",
            "stream_id": stream,
            "type": etype,
            "version": version,
            "position": pos,
            "appended_at": "2021-12-01T08:00:00+00:00",
        }
        out.append((stream.encode(), orjson.dumps(event, option=orjson.OPT_SORT_KEYS), pos))
    return out


def _headers(key: bytes | None, value: bytes, position: int) -> list[tuple[str, bytes]]:
    """The relay's headers: position and (with a key) the signature over position and value."""
    signed = [] if key is None else [(SIGNATURE_HEADER, sign(key, value, position))]
    return [(POSITION_HEADER, str(position).encode()), *signed]


async def fill(
    options: dict[str, Any], topic: str, messages: list[tuple[bytes, bytes, int]], key: bytes | None = None
) -> None:
    """Publish the messages as the relay does (signed when `key` is given)."""
    producer = make_producer(options, linger_ms=20)
    await producer.start()
    try:
        for i in range(0, len(messages), 10_000):
            futures = [
                await producer.send(topic, v, key=k, headers=_headers(key, v, p))
                for k, v, p in messages[i : i + 10_000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def raw_rate(options: dict[str, Any], topic: str, n: int) -> float:
    consumer = AIOKafkaConsumer(
        topic,
        **options,
        group_id=f"bench-raw-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
    )
    await consumer.start()
    seen, first = 0, 0.0
    try:
        while seen < n:
            for records in (await consumer.getmany(timeout_ms=1000, max_records=5000)).values():
                if not first:
                    first = time.perf_counter()
                for r in records:
                    orjson.loads(r.value)
                seen += len(records)
    finally:
        await consumer.stop()
    return n / (time.perf_counter() - first)


def process_rate(
    argvs: list[list[str]], env: dict[str, str], readmodel: str, n: int, timeout: float
) -> float:
    """Start the processes, time from the first committed message to all n committed, stop them."""
    procs = [
        subprocess.Popen(
            a, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        for a in argvs
    ]
    engine = open_readmodel(readmodel)
    try:
        deadline, first, base = time.monotonic() + timeout, 0.0, 0
        while time.monotonic() < deadline:
            done = applied_totals(engine)[0]
            if done and not first:
                first, base = time.perf_counter(), done
            if done >= n:
                return (n - base) / max(time.perf_counter() - first, 1e-9)
            time.sleep(0.02)
        raise TimeoutError(f"only {applied_totals(engine)[0]} of {n} events committed within {timeout} s")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        engine.dispose()


def run(n: int, partitions: int, console: Console) -> dict[str, float]:
    settings = Settings(topic_partitions=partitions)
    tmp = Path(tempfile.mkdtemp(prefix="casestream-bench-"))
    broker = None if settings.kafka_bootstrap_servers else EmbeddedBroker(tmp / "broker.log").start()
    try:
        bootstrap = settings.kafka_bootstrap_servers or (broker.bootstrap if broker else "")
        options = client_options(settings, bootstrap)
        asyncio.run(ensure_topics(settings, options))
        key = os.urandom(32)
        console.print(
            f"filling {settings.topic_case_events} ({partitions} partitions) with {n} events, "
            "signed as the relay signs them (the workers measure the signed-origin path) …"
        )
        asyncio.run(fill(options, settings.topic_case_events, bench_messages(n), key))
        rates = {
            "raw aiokafka getmany + orjson": asyncio.run(raw_rate(options, settings.topic_case_events, n))
        }
        for label, workers in (("worker x1 (Faust app + batch projector), signed path", 1), ("worker x2", 2)):
            rm = f"sqlite:///{tmp}/rm-{workers}.db"
            env = {
                **os.environ,
                "CASESTREAM_READMODEL_DB": rm,
                "CASESTREAM_WORKER_GROUP": f"bench-w{workers}",
                "CASESTREAM_DB": f"sqlite:///{tmp}/unused.db",
                "CASESTREAM_PIPELINE_SIGNING_KEY": key.hex(),
            }
            argv = [sys.executable, "-m", "services.worker", "--bootstrap", bootstrap, "--web-port", "0"]
            rates[label] = process_rate([argv] * workers, env, rm, n, 600)
            console.print(f"{label}: {rates[label]:,.0f} events/s")
        rm = f"sqlite:///{tmp}/rm-agent.db"
        argv = [
            sys.executable,
            "-m",
            "services.worker.bench_agent",
            bootstrap,
            f"bench-agent-{uuid.uuid4().hex[:6]}",
            rm,
            "1000",
        ]
        rates["stock Faust agent, stream.take_events(1000)"] = process_rate(
            [argv], {**os.environ, "CASESTREAM_PIPELINE_SIGNING_KEY": key.hex()}, rm, n, 900
        )
        return rates
    finally:
        if broker is not None:
            broker.stop()


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def pipeline(
    events: Annotated[int, typer.Option(help="events in the topic")] = 200_000,
    partitions: Annotated[int, typer.Option(help="partitions of the topic")] = 6,
) -> None:
    """Measure raw consume, the worker path (1 and 2 workers) and a stock Faust agent; print events/s."""
    signal.signal(signal.SIGTERM, _interrupt)  # so `finally` stops the broker and the workers
    console = Console()
    load_before = os.getloadavg()[0]
    rates = run(events, partitions, console)
    raw = next(iter(rates.values()))
    title = (
        f"casestream bench pipeline — {events} events, {partitions} partitions, "
        f"load average {load_before:.1f} → {os.getloadavg()[0]:.1f} (a shared machine: compare ratios); "
        "messages signed as the relay signs them: the workers ran the signed-origin path"
    )
    table = Table(title=title)
    table.add_column("path")
    table.add_column("events/s", justify="right")
    table.add_column("ratio to raw", justify="right")
    for label, rate in rates.items():
        table.add_row(label, f"{rate:,.0f}", f"{rate / raw:.2f}")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Adds `pipeline` to the `bench` group (creating the group when no other module has yet)."""
    for group in app.registered_groups:
        if group.name == "bench" and group.typer_instance is not None:
            group.typer_instance.command("pipeline")(pipeline)
            return
    bench = typer.Typer(help="benchmarks", no_args_is_help=True)
    bench.command("pipeline")(pipeline)
    app.add_typer(bench, name="bench")
