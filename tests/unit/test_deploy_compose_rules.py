"""deploy/compose.yaml: the project's own rules, stricter than the Compose Specification.

The spec itself is checked in tests/unit/test_deploy_compose.py (official schema and a real compose
CLI). Here: every component is there, pulled images are pinned, only the UI, Prometheus and Grafana
publish ports, every service waited for as healthy has a healthcheck, every service restarts, secrets
come from the environment, and compose, prometheus.yml, the mounts and the Dockerfile agree.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PUBLISHED = {"ui", "prometheus", "grafana"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merge keys (<<) resolved


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


def test_replay_checkpoints_are_prepared_daily_into_a_volume_the_image_owns() -> None:
    """The replay-prepare service keeps the memo on a named volume at a path the Dockerfile makes and
    gives to the image's user (a named volume takes the ownership of the path in the image)."""
    services = compose()["services"]
    svc, command = services["replay-prepare"], services["replay-prepare"]["command"]
    assert command[0] == "prepare-replay" and command[command.index("--every") + 1] == "24"
    memo = svc["environment"]["CASESTREAM_REPLAY_MEMO_DIR"]
    assert svc["environment"]["CASESTREAM_DB"] == services["relay"]["environment"]["CASESTREAM_DB"]
    assert f"replay-memo:{memo}" in svc["volumes"]
    assert re.search(rf"install -d -o casestream -g casestream {re.escape(memo)}\b",
                     (DEPLOY / "Dockerfile").read_text())


def test_pulled_images_are_pinned_to_a_version() -> None:
    for name, svc in compose()["services"].items():
        if "build" in svc:
            continue  # the casestream image is built from this repository
        image = svc["image"]
        tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else ""
        assert re.fullmatch(r"v?\d+(\.\d+)*", tag), f"{name}: image {image} is not pinned to a version"


def test_only_the_ui_prometheus_and_grafana_publish_ports() -> None:
    services = compose()["services"]
    assert {n for n, s in services.items() if s.get("ports")} == PUBLISHED
    for name in PUBLISHED:
        for port in services[name]["ports"]:
            host, container = str(port).split(":")
            assert host == container, f"{name}: {port}"


def test_dependencies_waited_for_as_healthy_have_a_healthcheck() -> None:
    services = compose()["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        for dep in deps if isinstance(deps, list) else deps.items():
            dep_name, how = (dep, {}) if isinstance(dep, str) else dep
            assert dep_name in services, (name, dep_name)
            if how.get("condition") == "service_healthy":
                assert services[dep_name].get("healthcheck", {}).get("test"), f"{dep_name}: no healthcheck"


def test_every_service_restarts() -> None:
    for name, svc in compose()["services"].items():
        assert svc.get("restart") in {"unless-stopped", "always"}, f"{name}: restart {svc.get('restart')}"


def test_mounts_exist() -> None:
    doc = compose()
    for name, svc in doc["services"].items():
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
