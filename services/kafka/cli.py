"""`casestream broker` (the embedded Tansu broker in the foreground) and `casestream relay`.

Also `demo_components(settings)`: the processes the demo starts (broker unless
KAFKA_BOOTSTRAP_SERVERS is set, relay, worker), each as an argv list.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from services.kafka.broker import EmbeddedBroker, broker_argv, free_port
from services.settings import Settings

if TYPE_CHECKING:
    from services.supervisor import Component

BootstrapOption = Annotated[
    str | None,
    typer.Option(
        "--bootstrap", envvar="KAFKA_BOOTSTRAP_SERVERS", help="Kafka bootstrap servers (host:port,…)"
    ),
]
DbOption = Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="event store URL")]


def module_argv(module: str) -> list[str]:
    """`python -m <module>` with this interpreter (independent of the rest of the CLI)."""
    return [sys.executable, "-m", module]


def demo_components(settings: Settings) -> list[Component]:
    """The pipeline processes, in start order: broker (embedded only), relay, worker (`services.supervisor`).

    The broker is ready when its port accepts connections, the worker when its Faust web server does
    (`/pipeline/` shows applied / skipped / dead-letter counts and the positions).
    """
    from services.supervisor import Component

    out: list[Component] = []
    bootstrap = settings.kafka_bootstrap_servers
    if not bootstrap:
        port = settings.broker_port or free_port()
        bootstrap = f"127.0.0.1:{port}"
        out.append(Component("broker", broker_argv(port), ready=port, ready_timeout=15))
    common = ["--bootstrap", bootstrap, "--db", settings.db]
    web = settings.worker_web_port or free_port()
    relay_metrics = str(settings.relay_metrics_port or free_port())
    relay_argv = [*module_argv("services.kafka"), "relay", *common, "--metrics-port", relay_metrics]
    out.append(Component("relay", relay_argv, url=f"http://127.0.0.1:{relay_metrics}/metrics"))
    out.append(
        Component(
            "worker",
            [*module_argv("services.worker"), *common, "--web-port", str(web),
             "--metrics-port", str(settings.worker_metrics_port or free_port())],
            ready=web,
            url=f"http://127.0.0.1:{web}/pipeline/",
            ready_timeout=60,
        )
    )
    return out


def broker(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = a free one)")] = 0,
    log: Annotated[Path | None, typer.Option(help="broker log file")] = None,
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, in memory) until interrupted."""
    settings = Settings()
    b = EmbeddedBroker(log or settings.var_dir / "broker.log", port or settings.broker_port)
    b.start()
    typer.echo(f"broker listening on {b.bootstrap} (log {b.log_path})")
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        b.stop()


def relay(
    bootstrap: BootstrapOption = None,
    db: DbOption = None,
    metrics_port: Annotated[int | None, typer.Option(help="serve the relay's /metrics on this port")] = None,
) -> None:
    """Publish the store's events to the case-events topic, in position order, until stopped."""
    from services.bootstrap import bootstrap as boot
    from services.kafka.broker import client_options
    from services.kafka.relay import Relay
    from services.readmodel.persist import open_readmodel, readmodel_url

    logging.basicConfig(
        level=os.environ.get("CASESTREAM_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    app_ = boot(db=db)
    engine = open_readmodel(readmodel_url(app_.settings))
    options = client_options(app_.settings, bootstrap)
    metrics = None
    if metrics_port is not None:
        from services.metrics.pipeline import PipelineMetrics

        metrics = PipelineMetrics()
        metrics.serve(metrics_port)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await Relay(app_.store, engine, app_.settings, options, metrics).run(stop)

    try:
        asyncio.run(main())
    finally:
        app_.close()
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.command(name="broker")(broker)
    app.command(name="relay")(relay)
