"""The KPI exporter: `casestream exporter --port N` serves the KPI gauges on /metrics.

`build_registry` is the one place the exporter's private `CollectorRegistry` is built: a
`KpiCollector` over the store's `KpiSource`, read at scrape time. Pipeline counters are not served
here; each pipeline process serves its own (`services.metrics.pipeline`).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from types import FrameType
from typing import Annotated, Any

import typer
from prometheus_client import CollectorRegistry, start_http_server

from events.timeutil import STOCKHOLM
from services.metrics.collector import KpiCollector
from services.metrics.forecast_band import BandCache
from services.metrics.source import KpiSource, kpi_source
from services.settings import Settings
from services.supervisor import Component


def reference_day(settings: Settings) -> Callable[[], date]:
    """The business day the gauges refer to: the configured day, else today in Europe/Stockholm."""
    fixed = settings.metrics_as_of
    if fixed is not None:
        return lambda: fixed
    return lambda: datetime.now(STOCKHOLM).date()


def build_registry(source: KpiSource, settings: Settings, day: Callable[[], date] | None = None,
                   *, band: BandCache | None = None) -> CollectorRegistry:
    """The exporter's registry; the forecast band uses the settings' seed and simulations unless given."""
    registry = CollectorRegistry(auto_describe=False)
    band = band or BandCache(seed=settings.forecast_seed, simulations=settings.forecast_simulations)
    registry.register(KpiCollector(source, day or reference_day(settings),
                                   small_cell_threshold=settings.small_cell_threshold,
                                   investigation_limit_days=settings.investigation_limit_days, band=band))
    return registry


def serve(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Start the HTTP endpoint in a daemon thread; returns the server (`server_port`, `shutdown()`)."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    stop.wait()


def register(app: typer.Typer) -> None:
    @app.command()
    def exporter(
        port: Annotated[int | None, typer.Option(help="port for /metrics (0 = a free port)")] = None,
        host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
        db: Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="store URL")] = None,
        as_of: Annotated[str | None, typer.Option("--as-of", help="KPI business day")] = None,
    ) -> None:
        """Serve the KPI gauges (beläggning, externa köp, prognos, aktualiseringar) for Prometheus."""
        from services.bootstrap import bootstrap

        update: dict[str, object] = {}
        if as_of is not None:
            try:
                update["metrics_as_of"] = date.fromisoformat(as_of)
            except ValueError:
                raise typer.BadParameter(f"--as-of {as_of!r} is not a date (YYYY-MM-DD)") from None
        settings = Settings().model_copy(update=update)
        app_ = bootstrap(settings, db=db)
        try:
            registry = build_registry(kpi_source(app_.store), app_.settings)
            listen = settings.exporter_port if port is None else port
            server = serve(registry, host or settings.exporter_host, listen)
            typer.echo(f"casestream exporter: http://{server.server_address[0]}:{server.server_port}/metrics")
            _wait_for_signal()
            server.shutdown()
        finally:
            app_.close()


def exporter_argv(settings: Settings, port: int | None = None) -> list[str]:
    """`python -m services.metrics exporter` over the settings' store, host and port."""
    argv = [sys.executable, "-m", "services.metrics", "exporter", "--db", settings.db,
            "--host", settings.exporter_host, "--port", str(settings.exporter_port if port is None else port)]
    if settings.metrics_as_of is not None:
        argv += ["--as-of", settings.metrics_as_of.isoformat()]
    return argv


def demo_components(settings: Settings) -> list[Component]:
    """The exporter as a component of the demo supervisor, ready when its port accepts connections."""
    url = f"http://{settings.exporter_host}:{settings.exporter_port}/metrics"
    return [Component(name="exporter", argv=exporter_argv(settings), ready=settings.exporter_port, url=url)]
