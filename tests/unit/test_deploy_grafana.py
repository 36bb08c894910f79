"""Grafana: committed dashboards equal a fresh build, and every metric a panel queries really exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from services.metrics import catalogue, dashboards

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
RULES = ROOT / "deploy" / "prometheus" / "rules"
PROMETHEUS_BUILTINS = frozenset({"up", "ALERTS", "ALERTS_FOR_STATE"})
KEYWORDS = frozenset({
    "sum", "avg", "min", "max", "count", "by", "without", "on", "ignoring", "group_left", "group_right",
    "and", "or", "unless", "bool", "offset", "topk", "bottomk", "rate", "increase", "deriv", "time",
})


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label matchers, groupings and ranges removed)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        following = text[m.end():].lstrip()[:1]
        if m.group() not in KEYWORDS and following != "(":
            names.add(m.group())
    return names


def recorded_names() -> set[str]:
    out = set()
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            out |= {r["record"] for r in group["rules"] if "record" in r}
    return out


def test_metric_name_extraction() -> None:
    expr = 'sum by (job) (rate(casestream_events_appended_total{job="a b"}[5m])) > on() group_left() x:y'
    assert metric_names(expr) == {"casestream_events_appended_total", "x:y"}


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_committed_dashboard_equals_a_fresh_build(name: str) -> None:
    committed = (GRAFANA / "dashboards" / f"{name}.json").read_text(encoding="utf-8")
    assert committed == dashboards.render(name), f"{name}.json is stale: run `python deploy/grafana/build.py`"


@pytest.mark.parametrize("name", sorted(dashboards.DASHBOARDS))
def test_every_panel_queries_only_existing_metrics(name: str) -> None:
    board = json.loads(dashboards.render(name))
    exprs = dashboards.panel_queries(board)
    assert exprs, "a dashboard without queries"
    known = catalogue.exposed_names() | recorded_names() | PROMETHEUS_BUILTINS
    used = set().union(*(metric_names(e) for e in exprs))
    assert used - known == set(), f"{name}: panels query unknown metrics {sorted(used - known)}"
    assert all(p.get("datasource", {}).get("uid") == dashboards.DATASOURCE.uid
               for p in board["panels"] if p["type"] != "row")


def test_provisioning_points_at_the_dashboards_datasource_and_folder() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert [d["uid"] for d in ds["datasources"]] == [dashboards.DATASOURCE.uid]
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "casestream.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"
    uids = {json.loads(dashboards.render(n))["uid"] for n in dashboards.DASHBOARDS}
    assert len(uids) == len(dashboards.DASHBOARDS)
