"""`casestream simulate` through the real CLI into real SQLite stores and JSONL, checked by `ingest`.

One simulated month (registered by 31 January 2021) keeps it quick.
"""

from __future__ import annotations

from pathlib import Path

import typer
from typer.testing import CliRunner

from services.cli import ingest
from services.simulator.cli import register
from services.store import open_store

runner = CliRunner()
MONTH = ["--years", "1", "--start-year", "2021", "--until", "2021-01-31", "--seed", "42"]


def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    app.command("ingest")(ingest)
    return app


def stored(url: str) -> int:
    store = open_store(url)
    try:
        return store.head()
    finally:
        store.close()


def test_jsonl_ingests_without_a_rejection_and_equals_the_direct_load(tmp_path: Path) -> None:
    app = cli()
    out = tmp_path / "month.jsonl"
    result = runner.invoke(app, ["simulate", *MONTH, "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_bytes().count(b"\n")
    assert lines > 1000
    via_ingest = f"sqlite:///{tmp_path / 'ingested.db'}"
    result = runner.invoke(app, ["ingest", str(out), "--db", via_ingest])
    assert result.exit_code == 0, result.output
    assert f"accepted {lines}  duplicate 0  rejected 0" in result.output
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    result = runner.invoke(app, ["simulate", *MONTH, "--db", direct])
    assert result.exit_code == 0, result.output
    assert stored(direct) == stored(via_ingest) == lines


def test_loading_the_same_history_twice_adds_nothing(tmp_path: Path) -> None:
    app = cli()
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert runner.invoke(app, ["simulate", *MONTH, "--db", url]).exit_code == 0
    first = stored(url)
    result = runner.invoke(app, ["simulate", *MONTH, "--db", url])
    assert result.exit_code == 0, result.output
    assert "accepted 0" in result.output
    assert stored(url) == first


def test_bad_options_are_named(tmp_path: Path) -> None:
    app = cli()
    both = runner.invoke(app, ["simulate", *MONTH, "--out", str(tmp_path / "x.jsonl"), "--db", "sqlite:///x.db"])
    assert both.exit_code != 0 and "exactly one of --out" in both.output
    target = str(tmp_path / "x.jsonl")
    bad = runner.invoke(app, ["simulate", *MONTH, "--municipality", "18800", "--out", target])
    assert bad.exit_code != 0 and "four digits" in bad.output
    until = runner.invoke(app, ["simulate", "--until", "31/1", "--out", str(tmp_path / "x.jsonl")])
    assert until.exit_code != 0 and "--until" in until.output
