"""The proof bundle (revisionsunderlag) written next to every replayed report, and how it is read.

A proof names everything needed to re-derive the figures and to see whether they still hold:
the municipality (filter and the municipalities seen), the business period, the known-at record time,
the included events (position range, count, SHA-256 over their stored bytes in position order, the
store head when the replay started, the manifest file), the KPI definition version and parameters of
each report, the code version, the report rows (canonical, exact) with their SHA-256, and the SHA-256
of each written file. Reading validates the JSON and names the field that is wrong.
"""

from __future__ import annotations

import subprocess
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileRef(_Model):
    file: str  # relative to the proof's directory
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class EventRange(_Model):
    head: int = Field(ge=0)  # store head when the replay started: the highest position it could include
    first_position: int | None
    last_position: int | None
    count: int = Field(ge=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    manifest: FileRef | None = None
    back_registered: int = Field(default=0, ge=0)  # included events appended > 1 day after recorded_at


class ReportProof(_Model):
    name: str
    definition_version: int = Field(ge=1)
    rows_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: list[dict[str, Any]]
    files: dict[str, FileRef] = Field(default_factory=dict)  # "json" / "csv" -> written file


class CodeVersion(_Model):
    package: str
    version: str
    git_commit: str | None = None
    git_dirty: bool | None = None


class PeriodRef(_Model):
    start: date = Field(alias="from")
    end: date = Field(alias="to")
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Proof(_Model):
    proof_format: Literal[1] = 1
    municipality: str | None  # the filter; None = every municipality in the store
    municipalities: list[str]  # municipalities of the included events
    period: PeriodRef
    known_at: datetime
    params: dict[str, int]
    events: EventRange
    reports: list[ReportProof]
    code: CodeVersion
    replayed_at: datetime


class ProofError(ValueError):
    """A proof file that cannot be used; the message names the file and the field."""


def load(path: Path) -> Proof:
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise ProofError(f"{path}: no such proof file") from None
    except orjson.JSONDecodeError as exc:
        raise ProofError(f"{path}: not valid JSON: {exc}") from None
    try:
        return Proof.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ProofError(f"{path}: not a casestream proof: {problems}") from None


def dump(proof: Proof) -> bytes:
    return orjson.dumps(proof.model_dump(mode="json", by_alias=True),
                        option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version() -> CodeVersion:
    """The installed package version and, when the code runs from a git checkout, its commit."""
    try:
        version = metadata.version("casestream")
    except metadata.PackageNotFoundError:
        version = "unknown"
    root = Path(__file__).resolve().parents[2]
    commit = _git(root, "rev-parse", "HEAD")
    dirty = None
    if commit is not None:
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
        dirty = None if status is None else bool(status)
    return CodeVersion(package="casestream", version=version, git_commit=commit, git_dirty=dirty)
