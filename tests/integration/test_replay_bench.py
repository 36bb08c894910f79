"""`casestream bench replay` runs end to end on a small synthetic SQLite store and reports its figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from services.audit.bench import register
from services.audit.bench_history import synthetic


def test_synthetic_history_has_the_asked_size_and_is_seeded() -> None:
    first = list(synthetic(3000, municipalities=2, years=1))
    assert len(first) == 3000
    assert first == list(synthetic(3000, municipalities=2, years=1))
    assert {e["municipality"] for e in first} == {"1880", "1881"}


def test_the_recorded_order_has_the_same_events_in_record_order() -> None:
    by_case = list(synthetic(5000, municipalities=2, years=2))
    live = list(synthetic(5000, municipalities=2, years=2, order="recorded"))
    assert sorted(map(str, live)) == sorted(map(str, by_case))
    recorded = [e["recorded_at"] for e in live]
    assert recorded == sorted(recorded)
    assert [e["recorded_at"] for e in by_case] != recorded  # by case, a placement's end comes early
    with pytest.raises(ValueError, match="order is 'case' or 'recorded'"):
        synthetic(10, municipalities=1, years=1, order="random")


def test_bench_replay_reports_throughput_memory_and_as_of_replay(tmp_path: Path) -> None:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None: ...

    db = tmp_path / "bench.db"
    result = CliRunner().invoke(
        app, ["bench", "replay", "--events", "2000", "--years", "2", "--db-file", str(db)]
    )
    assert result.exit_code == 0, result.output
    assert "built" in result.output
    assert re.search(r"full rebuild 2000 events in [\d.]+ s wall = [\d,]+ events/s", result.output)
    assert re.search(r"peak RSS \d+ MB", result.output)
    assert re.search(r"as-of replay of one municipality-year \(\d+ events", result.output)
    memo = re.search(r"page memo \(\d+ MB for 2000 events\): full rebuild filling it [\d,]+ events/s .* "
                     r"taking it [\d,]+ events/s wall.*pages \{'memo': (\d+)\}", result.output)
    assert memo is not None and int(memo.group(1)) >= 1, result.output  # the second rebuild took the memo
    exact = re.search(r"from its checkpoint, as known at the same time, [\d.]+ s wall.*"
                      r"pages \{'checkpoint': 1\}\)", result.output)
    assert exact is not None, result.output  # the second as-of replay read no page
    assert re.search(r"as known a month later \(\d+ events\) [\d.]+ s wall", result.output)
    assert re.search(r"again [\d.]+ s wall, [\d.]+ s CPU \(pages \{.checkpoint.: 1", result.output)
    prepared = re.search(r"prepared checkpoints of 1880 \(casestream prepare-replay; every month end, months "
                         r"of more than 25,000 rows cut at day ends\): "
                         r"(\d+) made from (\d+) events .* MB compressed, .*; the first as-of replay "
                         r"of each scope from them, each in a fresh process: (.*)", result.output)
    assert prepared is not None and int(prepared.group(1)) >= 3 and int(prepared.group(2)) > 0, result.output
    firsts = re.findall(r"municipality-year (\d+) as known at ([\d-]+) \(\d+ events\) [\d.]+ s wall.*?"
                        r"pages (\{[^}]*\})", prepared.group(3))
    assert firsts[0][:2] == ("2021", "2021-12-31") and firsts[1][0] == "2021", firsts
    assert firsts[1][1].startswith("2021-") and not firsts[1][1].endswith("-31"), firsts  # a day before one
    assert len(firsts) == 3 and all("'checkpoint': 1" in f[2] for f in firsts), firsts  # each from one
    assert not list(tmp_path.glob("tmp*")), "the bench's memo folder is removed"
    assert re.search(r"full rebuild parsing every payload \(not the store's parsed lines\), one process: "
                     r"[\d,]+ events/s wall .* with the lines [\d.]+ times the rate", result.output)
    assert "their parsed lines" not in result.output  # a store built now has them


def test_bench_replay_gives_a_store_made_before_the_parsed_lines_theirs(tmp_path: Path) -> None:
    import sqlite3

    from services.audit.bench_history import build_store

    db = tmp_path / "old.db"
    build_store(db, 1500, 2, 1)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE events SET parsed = NULL")  # as before the column (the edit log names them)
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None: ...

    args = ["bench", "replay", "--events", "1500", "--years", "1", "--db-file", str(db)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert re.search(rf"gave 1500 rows of {re.escape(str(db))} their parsed lines in [\d.]+ s", result.output)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(parsed) FROM events").fetchone() == (1500,)
