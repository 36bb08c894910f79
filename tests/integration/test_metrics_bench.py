"""`casestream bench latency` end to end, at a tiny size: the exporter process, a writer, a scraper."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_latency_reports_percentiles() -> None:
    cli = [sys.executable, "-c", "from services.cli import main; main()"]
    args = ["bench", "latency", "--rate", "100", "--duration", "1", "--history-years", "0"]
    done = subprocess.run([*cli, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    pattern = r"p50 (\d+) ms, p90 (\d+) ms, p99 (\d+) ms, max (\d+) ms over (\d+) batches"
    found = re.search(pattern, done.stdout)
    assert found, done.stdout
    p50, p90, p99, top, batches = map(int, found.groups())
    assert p50 <= p90 <= p99 <= top and batches == 10


def test_bench_refuses_a_zero_rate() -> None:
    done = subprocess.run([sys.executable, "-m", "services.metrics.bench", "--rate", "0"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--rate must be at least 1" in done.stderr
