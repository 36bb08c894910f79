"""docs/metrics.md lists every metric of the catalogue with its type and labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.metrics import catalogue

DOC = (Path(__file__).resolve().parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("spec", catalogue.ALL, ids=lambda s: s.name)
def test_every_metric_is_documented(spec: catalogue.Spec) -> None:
    assert f"| `{spec.name}` | {spec.kind} | {', '.join(spec.labels) or '–'} |" in DOC


def test_names_follow_the_conventions() -> None:
    for spec in catalogue.ALL:
        assert spec.name.startswith("casestream_")
        assert spec.name.endswith("_total") == (spec.kind == "counter"), spec.name
        assert "percent" not in spec.name and not spec.help[0].islower() and spec.help.endswith(".")
