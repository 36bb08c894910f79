"""`casestream rebuild PROJECTION`: rebuild a read model from the store, with a progress bar."""

from __future__ import annotations

from typing import Annotated

import typer

from services.readmodel.tables import PROJECTIONS


def rebuild(
    projection: Annotated[str, typer.Argument(help=f"{' | '.join(PROJECTIONS)} | all")],
    db: Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="event store URL")] = None,
    metrics_port: Annotated[int | None, typer.Option(
        help="serve casestream_rebuild_progress_ratio on this port's /metrics while rebuilding")] = None,
) -> None:
    """Rebuild read-model tables from the event store into a new generation; switch once caught up."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

    from services.bootstrap import bootstrap
    from services.readmodel.persist import open_readmodel, readmodel_url
    from services.readmodel.rebuild import rebuild as run

    names = list(PROJECTIONS) if projection == "all" else [projection]
    if any(n not in PROJECTIONS for n in names):
        raise typer.BadParameter(
            f"unknown projection {projection!r}; choose one of {', '.join(PROJECTIONS)} or all",
            param_hint="PROJECTION",
        )
    app_ = bootstrap(db=db)
    engine = open_readmodel(readmodel_url(app_.settings))
    metrics = None
    if metrics_port is not None:
        from services.metrics.pipeline import PipelineMetrics

        metrics = PipelineMetrics()
        metrics.serve(metrics_port)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns) as bar:
            for name in names:
                task = bar.add_task(f"rm_{name}", total=max(app_.store.head(), 1))

                def show(done: int, head: int, t: TaskID = task, n: str = name) -> None:
                    bar.update(t, completed=done, total=max(head, 1))
                    if metrics is not None:
                        metrics.rebuild_progress(n, done, head)

                gen = run(app_.store, engine, name, show)
                if metrics is not None:
                    metrics.rebuild_progress(name, 1, 1)  # switched over: done, even for an empty store
                bar.update(task, description=f"rm_{name} → generation {gen}")
    finally:
        app_.close()
        engine.dispose()


def register(app: typer.Typer) -> None:
    app.command(name="rebuild")(rebuild)
