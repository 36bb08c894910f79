"""A real Prometheus scrapes the exporter over a real SQLite store; KPIs and alerts are read back via its API.

The exporter serves the scenario of `tests.unit.test_metrics_scenario` (reference day 2021-03-15),
plus two more stays in the long-stay unit so it starts at 100 % occupancy. Prometheus (Debian
package, started on 127.0.0.1 with a 1 s scrape and evaluation interval and the deploy rules with
`for:` removed) must report exactly the series the projections compute, and the long-stay occupancy
alert must fire once three stays are retracted (7 of 10 places: 70 % < 95 %). The forecast band
(`bundle_gauges`, recomputed in the background after a change) is waited for like the position.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from events.envelope import Event
from projections import bundle
from projections.forecast_model import SimConfig
from services.forecasting import bundle_gauges
from services.metrics import kpis
from services.metrics.exporter import build_registry, serve
from services.metrics.source import kpi_source
from services.settings import Settings
from services.store import EventStore, open_store
from tests.unit import builders as b
from tests.unit.test_metrics_scenario import AS_OF, START, scenario_events

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rules"
JOB = "casestream-exporter"
LONG = (("kind", "long_stay"), ("unit", "U-LONG"))
SETTINGS = Settings(metrics_as_of=AS_OF, forecast_simulations=200)
BAND = "casestream_forecast_band_sek"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(port: int, path: str, **params: str) -> Any:
    url = f"http://127.0.0.1:{port}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = json.load(resp)
    assert body["status"] == "success", body
    return body["data"]


def wait_for(what: str, check: Any, timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except OSError as exc:  # Prometheus not listening yet
            last = exc
        else:
            if last:
                return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def fast_alert_rules(target: Path) -> Path:
    """The deploy alert rules with every `for:` removed, so an alert fires at the first evaluation."""
    rules = yaml.safe_load((RULES / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule.pop("for", None)
    target.write_text(yaml.safe_dump(rules, allow_unicode=True))
    return target


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    s = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()


@pytest.fixture
def prometheus(tmp_path: Path, store: EventStore) -> Iterator[int]:
    exporter = serve(build_registry(kpi_source(store), SETTINGS), "127.0.0.1", 0)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES / "thresholds.yml"), str(RULES / "recording.yml"),
                       str(fast_alert_rules(tmp_path / "alerts.yml"))],
        "scrape_configs": [{"job_name": JOB, "static_configs": [
            {"targets": [f"127.0.0.1:{exporter.server_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    exe = shutil.which("prometheus")
    assert exe is not None, "prometheus not found: run `make system-deps` (Debian package prometheus)"
    port = free_port()
    proc = subprocess.Popen(
        [exe, f"--config.file={tmp_path / 'prometheus.yml'}", f"--web.listen-address=127.0.0.1:{port}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}"],
        stdout=subprocess.DEVNULL, stderr=(tmp_path / "prometheus.log").open("wb"))
    try:
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        exporter.shutdown()


def series(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    result = api(port, "query", query=f'{{__name__=~"casestream_.+",job="{JOB}"}}')["result"]
    out = {}
    for item in result:
        labels = {k: v for k, v in item["metric"].items() if k not in ("__name__", "job", "instance")}
        out[(item["metric"]["__name__"], tuple(sorted(labels.items())))] = float(item["value"][1])
    return out


def expected(events: list[Event], head: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The KPI samples the projections give for the store's events (freshness gauges aside)."""
    state = bundle.fold(events)
    config = SimConfig(simulations=SETTINGS.forecast_simulations)
    band = bundle_gauges(state, AS_OF, seed=SETTINGS.forecast_seed, config=config)
    samples = [*kpis.samples(state, kpis.Options(AS_OF)), *band]
    out = {(s.name, tuple(sorted(s.labels))): s.value for s in samples}
    out[("casestream_store_head_position", ())] = float(head)
    out[("casestream_events_appended_total", ())] = float(head)  # gap-free positions: head = appended
    return out


def firing(port: int) -> set[tuple[str, str]]:
    alerts = api(port, "alerts")["alerts"]
    return {(a["labels"]["alertname"], a["labels"].get("unit", "")) for a in alerts if a["state"] == "firing"}


def test_prometheus_scrapes_kpis_equal_to_the_projections_and_fires_the_occupancy_alert(
        store: EventStore, prometheus: int) -> None:
    events = scenario_events()
    events += [b.placement_started(f"PL-L{i}", START, unit_id="U-LONG", regime="own") for i in (8, 9)]
    stored = store.append(events).accepted
    assert len(stored) == len(events)

    want_band = {k: v for k, v in expected(stored, len(stored)).items() if k[0] == BAND}

    def scraped_all() -> dict[Any, float] | None:
        got = series(prometheus)
        band = {k: v for k, v in got.items() if k[0] == BAND}
        return got if got.get(("casestream_kpi_position", ())) == len(stored) and band == want_band else None
    got = wait_for("a scrape of every event", scraped_all)
    assert got.pop(("casestream_kpi_read_duration_seconds", ())) >= 0
    got.pop(("casestream_kpi_last_event_timestamp_seconds", ()))
    assert got == expected(stored, len(stored))
    assert got[("casestream_unit_occupancy_accumulated_ratio", LONG)] == 1.0

    kpi_alerts = {"CasestreamForecastDeviationNegative", "CasestreamPersonsPerDayAboveBudget",
                  "CasestreamInvestigationsOverdue", "CasestreamIntakeSpike"}
    wait_for("the KPI alerts of the scenario", lambda: kpi_alerts <= {n for n, _ in firing(prometheus)})
    assert ("CasestreamLongStayOccupancyLow", "U-LONG") not in firing(prometheus)

    starts = [e for e in stored
              if e.type == "placement.started" and e.data.model_dump().get("unit_id") == "U-LONG"][:3]
    more = store.append([b.retracted(e, AS_OF) for e in starts]).accepted
    alert = ("CasestreamLongStayOccupancyLow", "U-LONG")
    wait_for("the long-stay occupancy alert", lambda: alert in firing(prometheus))
    got = series(prometheus)
    assert got.pop(("casestream_kpi_read_duration_seconds", ())) >= 0
    got.pop(("casestream_kpi_last_event_timestamp_seconds", ()))
    assert got == expected(stored + more, len(stored) + len(more))
    assert got[("casestream_unit_occupancy_accumulated_ratio", LONG)] == 0.7
    query = 'kind:casestream_unit_occupancy_accumulated_ratio:avg{kind="long_stay"}'

    def recorded() -> bool:
        result = api(prometheus, "query", query=query)["result"]
        return bool(result) and float(result[0]["value"][1]) == 0.7
    wait_for("the recording rule to follow", recorded)
