"""deploy/compose.yaml: accepted by a real compose CLI, which validates it against the Compose schema.

No Docker engine runs here (CONVENTIONS §8), so the file is checked without one: a real
`docker compose config` (the compose plugin) or, without it, Debian's `docker-compose` 1.29 (package
docker-compose, installed by `make system-deps`). Both parse, interpolate and validate the file offline
against the Compose JSON schema they ship (an unknown key or a wrong type is an error). 1.29's schema
predates the top-level `name`, so it gets a copy without that line and `-p casestream` (the same project
name) instead. The project's own rules, stricter than the spec, are in
tests/unit/test_deploy_compose_rules.py. The schema is not vendored into the repository: the CLI carries it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
ENV = {"POSTGRES_PASSWORD": "test-only", "GRAFANA_ADMIN_PASSWORD": "test-only",
       "CASESTREAM_RUNBOOK_BASE_URL": "https://runbooks.invalid/docs/runbooks"}


def compose_config(text: str) -> subprocess.CompletedProcess[str]:
    """`config -q` of a compose file's text by the compose CLI found here, in deploy/, offline."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root"), **ENV}
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        argv = [docker, "compose", "-f", "-", "config", "-q"]
    else:
        v1 = shutil.which("docker-compose")
        assert v1 is not None, "no compose CLI: run `make system-deps` (Debian package docker-compose)"
        text = "\n".join(line for line in text.splitlines() if not line.startswith("name:"))
        argv = [v1, "-p", "casestream", "-f", "-", "config", "-q"]
    return subprocess.run(argv, input=text, cwd=DEPLOY, env=env, capture_output=True, text=True,
                          timeout=120)


def test_a_real_compose_cli_accepts_the_file() -> None:
    done = compose_config((DEPLOY / "compose.yaml").read_text())
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_cli_rejects_a_typo() -> None:
    text = (DEPLOY / "compose.yaml").read_text().replace("    expose: [\"9464\"]", "    expose_: [\"9464\"]")
    done = compose_config(text)
    assert done.returncode != 0 and "expose_" in done.stdout + done.stderr


def test_the_compose_cli_rejects_a_wrong_type() -> None:
    original = (DEPLOY / "compose.yaml").read_text()
    text = original.replace("condition: service_healthy", "condition: [service_healthy]", 1)
    assert text != original
    done = compose_config(text)
    assert done.returncode != 0 and "condition" in done.stdout + done.stderr
