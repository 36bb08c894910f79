"""deploy/prometheus with the real promtool: config and rules check, and unit tests covering every alert.

Runbook links are absolute: `{{ $externalLabels.runbook_base_url }}/<alert>.md`, the base set in
prometheus.yml. The expanded URL is checked with a real Prometheus in tests/e2e/test_prometheus_pipeline.py
(the Debian promtool 2.42 cannot set external labels in a test file).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy" / "prometheus"
RULE_FILES = sorted((PROM / "rules").glob("*.yml"))
TESTS = sorted((PROM / "tests").glob("*.yml"))


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("promtool")
    assert exe is not None, "promtool not found: run `make system-deps` (Debian package prometheus)"
    return subprocess.run([exe, *args], cwd=PROM, capture_output=True, text=True, timeout=120)


def alerts() -> list[dict]:
    found = []
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            found += [r for r in group["rules"] if "alert" in r]
    return found


def test_promtool_check_config() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", *(str(p) for p in RULE_FILES))
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_test_rules() -> None:
    done = promtool("test", "rules", *(str(p) for p in TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_every_alert_is_tested_firing() -> None:
    fired: set[str] = set()
    for path in TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            fired |= {t["alertname"] for t in case.get("alert_rule_test", []) if t.get("exp_alerts")}
    names = {a["alert"] for a in alerts()}
    assert names, "no alerts found"
    assert names - fired == set(), f"alerts without a firing promtool test: {sorted(names - fired)}"


RUNBOOK_BASE = "{{ $externalLabels.runbook_base_url }}/"


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_has_swedish_summary_and_runbook(rule: dict) -> None:
    notes = rule["annotations"]
    assert set("åäö") & set(notes["summary"].lower()), f"{rule['alert']}: summary is not Swedish"
    assert notes["runbook_url"] == f"{RUNBOOK_BASE}{rule['alert']}.md", "runbook_url: an absolute URL"
    runbook = ROOT / "docs" / "runbooks" / f"{rule['alert']}.md"
    assert runbook.is_file(), f"missing runbook {runbook}"
    assert rule["labels"]["severity"] in {"info", "warning", "critical"}


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_no_configured_number_is_written_into_a_summary(rule: dict) -> None:
    """Limits come from series (e.g. the exporter's casestream_investigation_limit_days), not the text."""
    summary = re.sub(r"\{\{.*?\}\}", "", rule["annotations"]["summary"])
    found = re.search(r"\d+\s*(dagar|dygn|%|procent|kr)\b", summary)
    assert found is None, f"{rule['alert']}: a configured figure written into the summary: {summary}"


def test_the_runbook_base_url_is_configured_from_the_environment() -> None:
    """prometheus.yml takes the base from CASESTREAM_RUNBOOK_BASE_URL; compose passes it and the flag."""
    config = yaml.safe_load((PROM / "prometheus.yml").read_text())
    assert config["global"]["external_labels"]["runbook_base_url"] == "${CASESTREAM_RUNBOOK_BASE_URL}"
    prometheus = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())["services"]["prometheus"]
    assert "--enable-feature=expand-external-labels" in prometheus["command"]
    passed = prometheus["environment"]["CASESTREAM_RUNBOOK_BASE_URL"]
    assert passed.startswith("${CASESTREAM_RUNBOOK_BASE_URL")
