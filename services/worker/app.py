"""The Faust worker (`casestream worker`): Faust runs the lifecycle, the web server and health; the hot
path is the aiokafka batch consumer (`services.worker.consumer`) run as a future of the Faust app.

Faust starts `@app.task`s only after its own consumer group has joined (~4 s on Tansu), and the
projector's group join takes another ~3 s, so a plain `@app.task` makes every worker (re)start cost
~7.5 s. The projector loop is therefore added as a future of the app from `on_start` (the public
`mode.Service` hook Faust's App implements): Faust still owns it (it is cancelled and awaited when the
app stops) and both joins run at the same time.

The dead-letter topic is low volume, so it stays an ordinary Faust agent that logs and counts.
Group timings, replication factor and offset reset come from `Settings` (Tansu answers JoinGroup only
after half the session timeout, so the 6 s session keeps start-up to a few seconds). The app keeps no
Faust Tables, so Faust's changelog recovery (which trusts ListOffsets, defect 1) never runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import faust
from aiokafka.errors import KafkaError
from sqlalchemy.engine import Engine

from services.kafka.signing import pipeline_key
from services.settings import Settings

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics
from services.worker.consumer import BatchConsumer
from services.worker.projector import Projector

log = logging.getLogger("casestream.worker")


def _credentials(settings: Settings, options: dict[str, Any]) -> Any:
    if settings.kafka_sasl_mechanism:
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username or "",
            password=settings.kafka_sasl_password or "",
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=options.get("ssl_context"),
        )
    if "ssl_context" in options:
        return faust.SSLCredentials(options["ssl_context"])
    return None


class WorkerApp(faust.App):
    """Faust's App plus the projector loop, started with the app (see the module docstring)."""

    projector_loop: Callable[[], Awaitable[None]]

    async def on_start(self) -> None:
        await super().on_start()
        quiet_reconnect_logs()
        self.add_future(self.projector_loop())


class _OncePer(logging.Filter):
    """Lets a message template of a logger through once per `seconds`: while the broker is away aiokafka
    logs each reconnect attempt (~100 lines a second); one line per kind every 10 s says the same."""

    def __init__(self, seconds: float = 10.0) -> None:
        super().__init__()
        self.seconds, self.last = seconds, dict[tuple[str, object], float]()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.msg)
        if record.created - self.last.get(key, 0.0) < self.seconds:
            return False
        self.last[key] = record.created
        return True


def quiet_reconnect_logs() -> None:
    """Install `_OncePer` on aiokafka's loggers (created when its modules were imported)."""
    once = _OncePer()
    for name in list(logging.root.manager.loggerDict):
        if name == "aiokafka" or name.startswith("aiokafka."):
            logging.getLogger(name).addFilter(once)


async def _sessions(batch: BatchConsumer, stop: asyncio.Event, metrics: PipelineMetrics | None) -> None:
    """Run the batch consumer; a Kafka error that ends it (no broker at start-up, a broker gone for good
    from under a client) starts a new session after a backoff of 0.2 s doubling to 5 s, as the relay
    does. While the broker is merely away, aiokafka reconnects by itself and the session goes on."""
    delay = 0.2
    while not stop.is_set():
        try:
            await batch.run(stop)
            return
        except KafkaError as exc:
            if metrics is not None:
                metrics.worker_up(False)
            log.warning("projector session ended (%r); a new one in %.1f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


def make_app(
    settings: Settings,
    options: dict[str, Any],
    engine: Engine,
    *,
    web_port: int | None = None,
    app_id: str = "casestream-worker",
    metrics: PipelineMetrics | None = None,
) -> tuple[faust.App, BatchConsumer]:
    """The Faust app with the projector task and the dead-letter agent (nothing runs until started)."""
    brokers = ";".join(f"kafka://{s}" for s in str(options["bootstrap_servers"]).split(","))
    app = WorkerApp(
        app_id,
        broker=brokers,
        broker_credentials=_credentials(settings, options),
        store="memory://",
        web_port=settings.worker_web_port if web_port is None else web_port,
        web_host="127.0.0.1",
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset=settings.consumer_auto_offset_reset,
        producer_acks=-1,
    )
    batch = BatchConsumer(Projector(engine, pipeline_key(engine, settings)), settings, options, metrics)
    stop = asyncio.Event()
    dead_topic = app.topic(settings.topic_dead_letter, value_type=bytes, value_serializer="raw")
    dead_seen = {"count": 0}

    async def projector_loop() -> None:
        try:
            await _sessions(batch, stop, metrics)
        except Exception as exc:  # the worker must not live on without its projector: crash, get restarted
            await app.crash(exc)
        finally:
            stop.set()

    app.projector_loop = projector_loop

    @app.agent(dead_topic)
    async def dead_letters(stream: Any) -> None:
        async for _ in stream:
            dead_seen["count"] += 1

    @app.page("/pipeline/")
    async def pipeline_status(web: Any, request: Any) -> Any:
        return web.json(
            {
                "applied": batch.totals.applied,
                "skipped": batch.totals.skipped,
                "dead_letters": len(batch.totals.dead),
                "batches": batch.batches,
                "positions": {p: v[0] for p, v in batch.projector.positions.items()},
                "dead_letters_seen_by_agent": dead_seen["count"],
            }
        )

    @app.on_before_shutdown.connect  # type: ignore[arg-type]  # mode's stub wants a non-async signature
    async def _stop(sender: Any, *args: Any, signal: Any, **kwargs: Any) -> None:
        stop.set()

    return app, batch
