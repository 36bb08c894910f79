"""deploy/compose.yaml: valid against the Compose specification schema and consistent with the other files.

No Docker engine runs here (CONVENTIONS §8), so the file is validated statically: the vendored schema
(tests/data/compose-spec.json), plus cross-checks that compose and prometheus.yml name the same
services and ports and that every mounted file exists.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA = json.loads((ROOT / "tests" / "data" / "compose-spec.json").read_text())


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merge keys (<<) resolved


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_schema_is_a_valid_draft7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


def test_compose_file_is_valid_against_the_compose_spec() -> None:
    assert errors(compose()) == []


def test_the_schema_catches_typos_and_wrong_types() -> None:
    doc = compose()
    typo = copy.deepcopy(doc)
    typo["services"]["exporter"]["enviroment"] = {"A": "1"}
    assert any("enviroment" in e for e in errors(typo))
    bad = copy.deepcopy(doc)
    bad["services"]["postgres"]["depends_on"] = {"kafka": {"condition": "service_ready"}}
    assert errors(bad)
    assert errors({"services": {"x": {"ports": "8080"}}})


def test_every_component_of_the_production_setup_is_there() -> None:
    services = compose()["services"]
    for name in ("postgres", "relay", "exporter", "ui", "prometheus", "grafana"):
        assert name in services, name
    kafka = services.get("kafka") or services.get("redpanda")
    assert kafka is not None
    if "kafka" in services:
        assert "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    workers = [n for n in services if n.startswith("worker-")]
    assert len(workers) >= 2
    assert all(services[w]["command"][0] == "worker" for w in workers)


def test_dependencies_and_mounts_exist() -> None:
    doc = compose()
    services = doc["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        assert set(deps) <= set(services), (name, deps)
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name}: mounted {source} does not exist"
            else:
                assert source in doc["volumes"], f"{name}: named volume {source} not declared"


def test_secrets_come_from_the_environment() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    assert re.findall(r"PASSWORD: (.+)", text) == ["${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}",
                                                     "${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD}"]


@pytest.mark.parametrize("job", ["casestream-exporter", "casestream-relay", "casestream-worker"])
def test_every_scrape_target_is_a_compose_service_exposing_that_port(job: str) -> None:
    services = compose()["services"]
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    (scrape,) = [s for s in config["scrape_configs"] if s["job_name"] == job]
    targets = [t for sc in scrape["static_configs"] for t in sc["targets"]]
    assert targets
    for target in targets:
        host, port = target.split(":")
        assert host in services, f"{job}: {host} is not a compose service"
        assert port in services[host].get("expose", []), f"{job}: {host} does not expose {port}"
    if job == "casestream-worker":
        assert {t.split(":")[0] for t in targets} == {n for n in services if n.startswith("worker-")}


def test_image_build_copies_existing_packages() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.M):
        assert (ROOT / source).exists(), source
