"""A running pipeline watched by a real Prometheus: the KPI series equal the workers' read model.

Embedded broker, relay and worker (the pipeline test kit), the exporter as its own process over the
same store, and Prometheus (Debian package) on 127.0.0.1 scraping it every second with the deploy
rules. After the worker has caught up, every KPI series Prometheus holds equals the KPI samples read
off the read model's bundle — before and after a live batch arrives while everything runs — and the
forecast band equals `bundle_gauges` of that bundle (waited for: it is recomputed in the background).

The alert texts as Prometheus expands them: with the external labels of deploy/prometheus/prometheus.yml
(`runbook_base_url: ${CASESTREAM_RUNBOOK_BASE_URL}`, read from the environment as compose starts it,
`--enable-feature=expand-external-labels`), every firing alert links to `<base>/<alert>.md`, and the
overdue-investigations summary names the limit the exporter was configured with (here 90 days).
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from events import encode
from projections.forecast_model import SimConfig
from services.forecasting import bundle_gauges
from services.ingest import ingest_lines
from services.kafka.broker import EmbeddedBroker
from services.metrics import kpis
from services.metrics.exporter import build_registry, exporter_argv, serve
from services.metrics.source import kpi_source
from services.readmodel.persist import open_readmodel
from services.readmodel.source import bundle_from_readmodel
from services.settings import Settings
from services.store import open_store
from tests.integration.pipeline_kit import Pipeline, caught_up, history, wait_for
from tests.integration.test_prometheus_exporter import JOB, RULES, api, fast_alert_rules, free_port, series
from tests.integration.test_prometheus_exporter import wait_for as wait_value
from tests.unit.test_metrics_scenario import AS_OF as SCENARIO_DAY
from tests.unit.test_metrics_scenario import scenario_events

AS_OF = date(2021, 8, 31)
DEPLOY_PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "prometheus.yml"
RUNBOOKS = "https://runbooks.example.test/casestream/docs/runbooks"
STORE_ONLY = ("casestream_store_head_position", "casestream_events_appended_total",
              "casestream_kpi_last_event_timestamp_seconds", "casestream_kpi_read_duration_seconds")


@pytest.fixture()
def watched(tmp_path: Path) -> Iterator[tuple[Pipeline, int]]:
    exe = shutil.which("prometheus")
    assert exe is not None, "prometheus not found: run `make system-deps` (Debian package prometheus)"
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        pipe = Pipeline(tmp_path, broker.bootstrap)
        exporter_port, prom_port = free_port(), free_port()
        settings = Settings(db=pipe.store_url, metrics_as_of=AS_OF)
        pipe._proc("exporter", exporter_argv(settings, port=exporter_port))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(RULES / "thresholds.yml"), str(RULES / "recording.yml")],
                  "scrape_configs": [{"job_name": JOB, "static_configs": [
                      {"targets": [f"127.0.0.1:{exporter_port}"]}]}]}
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        prom = subprocess.Popen(
            [exe, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--web.listen-address=127.0.0.1:{prom_port}", f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
        try:
            yield pipe, prom_port
        finally:
            prom.terminate()
            prom.wait(timeout=20)
            pipe.stop_all()


def _jsonl(seed: int, n: int) -> io.BytesIO:
    return io.BytesIO(b"\n".join(encode(e, with_store_fields=False) for e in history(seed, n)) + b"\n")


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]
BAND = "casestream_forecast_band_sek"


def _expected(engine: Any) -> Series:
    """The KPI samples and the forecast band (the exporter's seed and simulations: the same settings)."""
    state, settings = bundle_from_readmodel(engine), Settings()
    band = bundle_gauges(state, AS_OF, seed=settings.forecast_seed,
                         config=SimConfig(simulations=settings.forecast_simulations))
    samples = [*kpis.samples(state, kpis.Options(AS_OF)), *band]
    return {(s.name, tuple(sorted(s.labels))): s.value for s in samples}


def _scraped(port: int, head: int, band: Series) -> Series | None:
    got = series(port)
    shown = {k: v for k, v in got.items() if k[0] == BAND}
    appended = got.get(("casestream_events_appended_total", ()))  # appended here, counted by the exporter
    if got.get(("casestream_kpi_position", ())) != head or appended != head or shown != band:
        return None
    return {k: v for k, v in got.items() if k[0] not in STORE_ONLY}


def test_kpi_series_in_prometheus_equal_the_read_model_of_a_running_pipeline(
        watched: tuple[Pipeline, int]) -> None:
    pipe, port = watched
    store = open_store(pipe.store_url)
    assert ingest_lines(store, _jsonl(61, 1000), io.BytesIO(), batch_size=500).rejected == 0
    pipe.relay()
    pipe.worker()
    engine = open_readmodel(pipe.readmodel_url)
    for round_ in range(2):
        head = store.head()
        wait_for(caught_up(engine, head), 120, f"the worker to catch up (round {round_})", pipe)
        want = _expected(engine)
        band = {k: v for k, v in want.items() if k[0] == BAND}
        got = wait_value(f"a scrape of position {head} and its band",
                         lambda h=head, b=band: _scraped(port, h, b), timeout=150)
        assert got == want
        assert any(name == "casestream_unit_occupancy_accumulated_ratio" for name, _ in got)
        if round_ == 0:  # live: more arrives while everything runs
            assert ingest_lines(store, _jsonl(62, 400), io.BytesIO(), batch_size=200).rejected == 0
    store.close()


def _prometheus(tmp_path: Path, config: dict[str, Any], port: int,
                env: dict[str, str]) -> subprocess.Popen[bytes]:
    exe = shutil.which("prometheus")
    assert exe is not None, "prometheus not found: run `make system-deps` (Debian package prometheus)"
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    return subprocess.Popen(
        [exe, f"--config.file={tmp_path / 'prometheus.yml'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}", "--enable-feature=expand-external-labels"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))


def test_alerts_link_absolute_runbooks_and_name_the_configured_limit(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    store.append(scenario_events())
    settings = Settings(metrics_as_of=SCENARIO_DAY, investigation_limit_days=90, forecast_simulations=200)
    exporter = serve(build_registry(kpi_source(store), settings), "127.0.0.1", 0)
    deployed = yaml.safe_load(DEPLOY_PROMETHEUS.read_text())["global"]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s",
                         "external_labels": deployed["external_labels"]},
              "rule_files": [str(RULES / "thresholds.yml"), str(RULES / "recording.yml"),
                             str(fast_alert_rules(tmp_path / "alerts.yml"))],
              "scrape_configs": [{"job_name": JOB, "static_configs": [
                  {"targets": [f"127.0.0.1:{exporter.server_port}"]}]}]}
    port = free_port()
    prom = _prometheus(tmp_path, config, port,
                       {"PATH": "/usr/bin:/bin", "CASESTREAM_RUNBOOK_BASE_URL": RUNBOOKS})
    try:
        def firing() -> list[dict[str, Any]] | None:
            alerts = [a for a in api(port, "alerts")["alerts"] if a["state"] == "firing"]
            names = {a["labels"]["alertname"] for a in alerts}
            return alerts if "CasestreamInvestigationsOverdue" in names else None
        alerts = wait_value("the overdue-investigations alert", firing, timeout=60)
        for alert in alerts:
            name = alert["labels"]["alertname"]
            assert alert["annotations"]["runbook_url"] == f"{RUNBOOKS}/{name}.md"
        (overdue,) = [a for a in alerts if a["labels"]["alertname"] == "CasestreamInvestigationsOverdue"]
        assert overdue["annotations"]["summary"] == \
            "8 pågående utredningar har passerat tidsgränsen för utredning (90 dagar)"
    finally:
        prom.terminate()
        prom.wait(timeout=20)
        exporter.shutdown()
        store.close()
