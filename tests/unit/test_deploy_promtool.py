"""deploy/prometheus with the real promtool: config and rules check, and unit tests covering every alert."""

from __future__ import annotations

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


@pytest.mark.parametrize("rule", alerts(), ids=lambda r: r["alert"])
def test_alert_has_swedish_summary_and_runbook(rule: dict) -> None:
    notes = rule["annotations"]
    assert set("åäö") & set(notes["summary"].lower()), f"{rule['alert']}: summary is not Swedish"
    runbook = ROOT / notes["runbook_url"]
    assert runbook.name == f"{rule['alert']}.md" and runbook.is_file(), f"missing runbook {runbook}"
    assert rule["labels"]["severity"] in {"info", "warning", "critical"}
