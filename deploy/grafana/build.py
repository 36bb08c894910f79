"""Regenerate the Grafana dashboards: `.venv/bin/python deploy/grafana/build.py` (from the project root).

The dashboards are defined in Python (services/metrics/dashboards.py, grafana-foundation-sdk); this
script writes them to deploy/grafana/dashboards/*.json, which Grafana's file provider loads.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.metrics.dashboards import write_all  # noqa: E402

if __name__ == "__main__":
    for path in write_all(ROOT / "deploy" / "grafana" / "dashboards"):
        print(path.relative_to(ROOT))  # noqa: T201
