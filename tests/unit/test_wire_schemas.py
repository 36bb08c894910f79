"""The committed JSON Schemas (events/schemas/) match the pydantic models and accept the golden samples."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from jsonschema import Draft202012Validator

from events import schema_export
from events.registry import VERSIONS

GOLDEN = Path(__file__).parent / "golden"
ALL = sorted(VERSIONS)


def schema(etype: str, version: int) -> dict[str, Any]:
    path = schema_export.SCHEMA_DIR / schema_export.file_name(etype, version)
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def validator(etype: str, version: int) -> Draft202012Validator:
    return Draft202012Validator(schema(etype, version), format_checker=Draft202012Validator.FORMAT_CHECKER)


def golden(etype: str, version: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{etype}.v{version}.json").read_text(encoding="utf-8"))
    return loaded


def test_committed_schemas_match_the_models() -> None:
    assert schema_export.drift() == [], "run `make schemas` and commit events/schemas/"


def test_drift_is_detected(tmp_path: Path) -> None:
    schema_export.write(tmp_path)
    assert schema_export.drift(tmp_path) == []
    victim = tmp_path / schema_export.file_name("case.actualised", 1)
    victim.write_text(victim.read_text(encoding="utf-8").replace('"channel"', '"kanal"'), encoding="utf-8")
    (tmp_path / "case.gone.v1.json").write_text("{}", encoding="utf-8")
    (tmp_path / schema_export.file_name("budget.set", 1)).unlink()
    assert schema_export.drift(tmp_path) == [
        "missing: budget.set.v1.json", "no model for: case.gone.v1.json",
        "differs from the model: case.actualised.v1.json",
    ]


@pytest.mark.parametrize(("etype", "version"), ALL)
def test_schema_is_valid_and_names_its_type_and_version(etype: str, version: int) -> None:
    s = schema(etype, version)
    Draft202012Validator.check_schema(s)
    assert s["x-casestream-type"] == etype and s["x-casestream-version"] == version
    assert s["properties"]["type"]["const"] == etype
    assert s["properties"]["version"]["const"] == version
    assert s["additionalProperties"] is False


@pytest.mark.parametrize(("etype", "version"), ALL)
def test_golden_sample_is_valid_against_its_schema(etype: str, version: int) -> None:
    validator(etype, version).validate(golden(etype, version))


def test_schema_rejects_what_the_codec_rejects() -> None:
    v = validator("placement.started", 2)
    good = golden("placement.started", 2)
    changes: list[Callable[[dict[str, Any]], object]] = [
        lambda e: e["data"].update(category="castle"),
        lambda e: e["data"].pop("price_unit"),
        lambda e: e["data"].update(price_sek=-1),
        lambda e: e["data"].update(nickname="Kalle"),
        lambda e: e.update(municipality="18800"),
        lambda e: e.update(event_id="not-a-uuid"),
    ]
    for change in changes:
        bad = copy.deepcopy(good)
        change(bad)
        with pytest.raises(jsonschema.ValidationError):
            v.validate(bad)


def test_v1_schema_describes_the_day_price_field() -> None:
    data = schema("placement.started", 1)["$defs"]["PlacementStartedV1"]
    assert "price_per_day_sek" in data["required"] and "price_sek" not in data["properties"]


def test_docs_describe_every_type_version_and_field() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "events.md").read_text(encoding="utf-8")
    sections = doc.split("\n### ")
    for etype, version in ALL:
        heading = f"`{etype}` v{version}"
        section = next((s for s in sections if s.startswith(heading)), None)
        assert section is not None, f"docs/events.md has no section for {heading}"
        for field in VERSIONS[(etype, version)].model_fields:
            assert f"| `{field}` |" in section, f"docs/events.md, {heading}: field {field} is not described"
