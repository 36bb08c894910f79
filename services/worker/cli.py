"""`casestream worker`: the Faust worker with the batch projector (start 1 or N of them)."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from services.kafka.cli import BootstrapOption, DbOption


def worker(
    bootstrap: BootstrapOption = None,
    db: DbOption = None,
    web_port: Annotated[int | None, typer.Option(help="Faust web/health port (0 = a free one)")] = None,
    loglevel: Annotated[str, typer.Option(help="Faust log level")] = "warning",
    metrics_port: Annotated[
        int | None, typer.Option(help="serve this worker's /metrics here (worker i: worker_metrics_port + i)")
    ] = None,
) -> None:
    """Consume case-events and keep the read models (and their positions) up to date."""
    import faust

    from services.kafka.broker import client_options, free_port
    from services.kafka.topics import ensure_topics
    from services.readmodel.persist import open_readmodel, readmodel_url
    from services.settings import Settings
    from services.worker.app import make_app

    settings = Settings() if db is None else Settings(db=db)
    if web_port == 0 or (web_port is None and settings.worker_web_port == 0):
        web_port = free_port()
    engine = open_readmodel(readmodel_url(settings))
    options = client_options(settings, bootstrap)
    asyncio.run(ensure_topics(settings, options))  # Faust never declares topics (topic_allow_declare off)
    metrics = None
    if metrics_port is not None:
        from services.metrics.pipeline import PipelineMetrics

        metrics = PipelineMetrics()
        metrics.serve(metrics_port)
        metrics.worker_up(True)
    app, _ = make_app(settings, options, engine, web_port=web_port, metrics=metrics)
    faust.Worker(app, loglevel=loglevel).execute_from_commandline()


def register(app: typer.Typer) -> None:
    app.command(name="worker")(worker)
