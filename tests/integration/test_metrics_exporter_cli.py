"""`python -m services.metrics exporter` as a real process over a SQLite store: serves, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from services.metrics.exporter import demo_components, exporter_argv
from services.settings import Settings
from services.store import open_store
from tests.unit.test_metrics_scenario import AS_OF, scenario_events

ROOT = Path(__file__).resolve().parents[2]


def test_exporter_process_serves_the_store_kpis_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    store = open_store(url)
    store.append(scenario_events())
    store.close()
    argv = exporter_argv(Settings(db=url, metrics_as_of=AS_OF), port=0)
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("casestream exporter: http://127.0.0.1:"):
            raise AssertionError(line + (proc.stderr.read() if proc.stderr else ""))
        with urllib.request.urlopen(line.split(": ", 1)[1].strip(), timeout=10) as resp:
            text = resp.read().decode()
        samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if not s.labels}
        assert samples["casestream_investigations_overdue_cases"] == 8
        assert samples["casestream_kpi_position"] == len(scenario_events())
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_bad_reference_day_is_refused_naming_the_option(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "services.metrics", "exporter", "--db",
                           f"sqlite:///{tmp_path / 's.db'}", "--as-of", "2021-13-01", "--port", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--as-of '2021-13-01' is not a date" in done.stderr


def test_demo_component_is_the_exporter_command_line() -> None:
    settings = Settings(db="sqlite:///x.db", exporter_port=9999)
    (component,) = demo_components(settings)
    assert component.name == "exporter" and component.ready == 9999
    assert component.url == "http://127.0.0.1:9999/metrics"
    assert list(component.argv)[1:] == ["-m", "services.metrics", "exporter", "--db", "sqlite:///x.db",
                                        "--host", "127.0.0.1", "--port", "9999"]
