"""deploy/compose.yaml: valid against the official Compose Specification schema and a real compose CLI.

No Docker engine runs here (CONVENTIONS §8), so the file is checked without one:

* the official schema, vendored unmodified in tests/data/compose-spec.json (compose-spec/compose-spec,
  schema/compose-spec.json at commit b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba; tests/data/README.md),
  validated with jsonschema;
* a real `docker compose config` (the compose plugin) or, without it, Debian's `docker-compose` 1.29
  (package docker-compose, installed by `make system-deps`): both parse, interpolate and validate the
  file offline. 1.29's schema predates the top-level `name`, so it gets a copy without that line and
  `-p casestream` (the same project name) instead;
* the project's own rules, stricter than the spec, in tests/unit/test_deploy_compose_rules.py.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"
SCHEMA = json.loads(SCHEMA_FILE.read_text())
SCHEMA_SHA256 = "91ae91d24640d45634c9d4b5f4e3a5ce1b6b6da38bc06b27e2a04891f81f32da"
SCHEMA_COMMIT = "b2835e8acc1e42e7aecbc27a9bc4a1fc66ef21ba"
ENV = {"POSTGRES_PASSWORD": "test-only", "GRAFANA_ADMIN_PASSWORD": "test-only",
       "CASESTREAM_RUNBOOK_BASE_URL": "https://runbooks.invalid/docs/runbooks"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # merge keys (<<) resolved


def errors(doc: dict[str, Any]) -> list[str]:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_the_vendored_schema_is_the_official_one_unmodified() -> None:
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256
    assert SCHEMA_COMMIT in (SCHEMA_FILE.parent / "README.md").read_text()
    assert SCHEMA["title"] == "Compose Specification"
    validator = jsonschema.validators.validator_for(SCHEMA)
    assert validator is jsonschema.Draft201909Validator
    validator.check_schema(SCHEMA)


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
