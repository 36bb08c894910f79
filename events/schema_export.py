"""JSON Schemas of the wire format, one file per (type, version), generated from the pydantic models.

`python -m events.schema_export` (make schemas) writes `events/schemas/<type>.v<version>.json`
from the envelope models of `events.registry` and removes files no model produces any more; a unit
test fails when the committed files differ from what this module generates, so the schemas can
never drift from the models. `--check` only compares and exits 1 on drift.

The schemas describe shape (fields, types, enums, patterns, bounds). Rules a schema cannot
express — the personnummer guard, the 64 KiB size limit, cross-field checks such as "unit_id is
required when regime is own" — are enforced by `events.codec` and documented in docs/events.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from events.registry import ENVELOPE_VERSIONS, LATEST

SCHEMA_DIR: Final = Path(__file__).parent / "schemas"
DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
ID_BASE: Final = "https://casestream.example/schemas/"


def file_name(etype: str, version: int) -> str:
    return f"{etype}.v{version}.json"


def schema_for(etype: str, version: int) -> dict[str, Any]:
    """The JSON Schema of one (type, version): the envelope with its payload under `$defs`."""
    schema = ENVELOPE_VERSIONS[(etype, version)].model_json_schema()
    latest = LATEST[etype].VERSION
    header: dict[str, Any] = {
        "$schema": DIALECT,
        "$id": ID_BASE + file_name(etype, version),
        "x-casestream-type": etype,
        "x-casestream-version": version,
        "x-casestream-latest-version": latest,
    }
    return {**header, **schema}


def render(schema: dict[str, Any]) -> str:
    """Stable text: sorted keys, two-space indent, UTF-8 (Swedish terms stay readable), final newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def generated() -> dict[str, str]:
    """File name -> content of every schema the models define."""
    return {file_name(t, v): render(schema_for(t, v)) for t, v in sorted(ENVELOPE_VERSIONS)}


def drift(directory: Path = SCHEMA_DIR) -> list[str]:
    """What differs between the committed files and the models (empty when in sync)."""
    wanted = generated()
    present = {p.name for p in directory.glob("*.json")} if directory.is_dir() else set()
    problems = [f"missing: {name}" for name in sorted(wanted.keys() - present)]
    problems += [f"no model for: {name}" for name in sorted(present - wanted.keys())]
    problems += [f"differs from the model: {name}" for name in sorted(wanted.keys() & present)
                 if (directory / name).read_text(encoding="utf-8") != wanted[name]]
    return problems


def write(directory: Path = SCHEMA_DIR) -> list[str]:
    """Write every schema and delete stale ones; returns the names written."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = generated()
    for stale in directory.glob("*.json"):
        if stale.name not in wanted:
            stale.unlink()
    for name, text in wanted.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        problems = drift()
        for problem in problems:
            sys.stderr.write(problem + "\n")
        return 1 if problems else 0
    names = write()
    sys.stdout.write(f"wrote {len(names)} schemas to {SCHEMA_DIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
