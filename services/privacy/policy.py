"""Retention policies (gallringsregler) as configuration: a YAML file, validated with line numbers.

    policies:
      - name: socialtjanst          # identifier, unique
        keep_years: 5               # removed when the last entry is more than 5 years before the run day
        applies_to: {}              # optional filter: which persons this policy governs (default all)
        overrides:                  # optional, per target group / legal basis / placement
          - name: lvu
            legal_basis: [LVU]
            keep: forever           # or keep_years: N

A person is governed by the first policy whose `applies_to` matches. Within it, every override that
matches the person applies and the most protective wins (`forever`, else the most years); without
one the policy's `keep_years` does. A filter matches when each key it gives matches: `target_group`
and `legal_basis` (any of the person's), `placed` (the person has, or has not, a placement).
A bad file gets an error naming the file, the line and the field (`PolicyError`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from events.base import Identifier
from events.vocabulary import LegalBasis, TargetGroup


class PolicyError(ValueError):
    """A retention file that cannot be used; the message names the file, line and field."""


class Filter(BaseModel):
    """Which persons a policy or an override concerns (every given key must match)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    target_group: list[TargetGroup] | None = None
    legal_basis: list[LegalBasis] | None = None
    placed: bool | None = None

    def matches(self, groups: frozenset[str], bases: frozenset[str], placed: bool) -> bool:
        return ((self.target_group is None or bool(groups & set(self.target_group)))
                and (self.legal_basis is None or bool(bases & set(self.legal_basis)))
                and (self.placed is None or self.placed == placed))


class Override(Filter):
    """Another keeping time for the persons it matches (`keep_years`, or `keep: forever`)."""

    name: Identifier
    description: str = ""
    keep_years: int | None = Field(default=None, ge=0, le=200)
    keep: Literal["forever"] | None = None

    @model_validator(mode="after")
    def _one_rule(self) -> Override:
        if (self.keep_years is None) == (self.keep is None):
            raise ValueError("give exactly one of keep_years or keep: forever")
        if self.target_group is None and self.legal_basis is None and self.placed is None:
            raise ValueError("an override needs target_group, legal_basis or placed")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Identifier
    description: str = ""
    keep_years: int = Field(ge=0, le=200)
    applies_to: Filter = Filter()
    overrides: list[Override] = []

    @model_validator(mode="after")
    def _unique(self) -> Policy:
        names = [o.name for o in self.overrides]
        if "default" in names or len(set(names)) != len(names):
            raise ValueError("override names must be unique and not 'default'")
        return self


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    policies: list[Policy] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> PolicyFile:
        names = [p.name for p in self.policies]
        if len(set(names)) != len(names):
            raise ValueError(f"policy names must be unique, got {', '.join(names)}")
        return self


def _line_of(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or of its nearest existing parent)."""
    line = None if node is None else node.start_mark.line + 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(text: str, source: str = "<policy>") -> PolicyFile:
    """The policies of a YAML text; PolicyError naming `source`, the line and the field when bad."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{source}{at}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{source}: expected a mapping with a 'policies' list")
    try:
        return PolicyFile.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = tuple(p for p in err["loc"] if not str(p).startswith("function-"))
            found = _line_of(node, loc)
            problems.append(f"{source} line {found}: {_where(loc) or 'file'}: {err['msg']}")
        raise PolicyError("\n".join(problems)) from None


def load(path: Path) -> PolicyFile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file {path}: {exc.strerror}") from None
    return parse(text, str(path))
