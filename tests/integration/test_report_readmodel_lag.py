"""`casestream report --source readmodel` says when the live read model lags the store: with no worker
run yet it must not silently show zeros as if they were the figures."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from events.codec import encode
from services.cli import app
from tests.unit.builders import placement_started

runner = CliRunner()


def test_an_empty_read_model_is_reported_as_lagging(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"".join(encode(placement_started(f"pl-{i}", "2021-01-05", price=4000)) + b"\n"
                                for i in range(3)))
    db = f"sqlite:///{tmp_path / 'store.db'}"
    assert runner.invoke(app, ["ingest", str(events), "--db", db]).exit_code == 0
    result = runner.invoke(app, ["report", "external-purchases", "--from", "2021-01-01", "--to", "2021-01-31",
                                 "--db", db, "--source", "readmodel", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "up to position 0" in result.output and "lag by 3 events" in result.output
