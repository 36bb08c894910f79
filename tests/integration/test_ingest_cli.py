"""Ingest through the real CLI and the real SQLite store: counts, rejects file, nothing accepted lost."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from typer.testing import CliRunner

from services.cli import app
from services.store import open_store

runner = CliRunner()


def _actualised(n: int, **over: object) -> dict[str, object]:
    event: dict[str, object] = {
        "event_id": str(uuid.UUID(int=n)),
        "type": "case.actualised",
        "stream_id": f"case:{n}",
        "municipality": "1880",
        "occurred_at": "2021-03-0" + str(1 + n % 9),
        "recorded_at": "2021-03-15T10:00:00+01:00",
        "data": {"person": f"P-{n:05d}", "channel": "report", "target_group": "children", "sex": "female"},
    }
    event.update(over)
    return event


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_ingest_counts_and_keeps_good_lines_around_bad(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    good = [json.dumps(_actualised(i)) for i in range(1, 6)]
    pnr_data = {"person": "19811218-9876", "channel": "report", "target_group": "youth"}
    bad_pnr = json.dumps(_actualised(7, data=pnr_data))
    lines = [good[0], "{not json", good[1], bad_pnr, good[2], json.dumps(_actualised(8, type="case.nope")),
             good[3], good[0], good[4]]
    src = _write(tmp_path / "in.jsonl", lines)
    result = runner.invoke(app, ["ingest", str(src), "--db", db, "--rejects", str(tmp_path / "rej.jsonl")])
    assert result.exit_code == 1, result.output
    assert "accepted 5  duplicate 1  rejected 3" in result.output
    rejected = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejected] == [2, 4, 6]
    assert rejected[1]["problems"][0]["field"] == "data.person"
    assert "personnummer" in rejected[1]["problems"][0]["reason"]
    assert rejected[2]["problems"][0]["field"] == "type"
    store = open_store(db)
    try:
        assert store.head() == 5 and len(list(store.read_all())) == 5
    finally:
        store.close()


def test_ingest_clean_file_exits_zero_and_second_run_is_all_duplicates(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    src = _write(tmp_path / "in.jsonl", [json.dumps(_actualised(i)) for i in range(1, 4)])
    first = runner.invoke(app, ["ingest", str(src), "--db", db])
    assert first.exit_code == 0, first.output
    assert "accepted 3  duplicate 0  rejected 0" in first.output
    second = runner.invoke(app, ["ingest", str(src), "--db", db])
    assert "accepted 0  duplicate 3  rejected 0" in second.output


def test_retraction_must_name_a_known_event_on_its_own_stream(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    target = _actualised(1)
    wrong_stream = {**_actualised(2), "type": "event.retracted", "stream_id": "case:999",
                    "data": {"retracted_event_id": target["event_id"], "reason": "dubblett"}}
    unknown = {**_actualised(3), "type": "event.retracted", "stream_id": "case:1",
               "data": {"retracted_event_id": str(uuid.UUID(int=424242)), "reason": "dubblett"}}
    right = {**_actualised(4), "type": "event.retracted", "stream_id": "case:1",
             "data": {"retracted_event_id": target["event_id"], "reason": "dubblett"}}
    src = _write(tmp_path / "in.jsonl", [json.dumps(e) for e in (target, wrong_stream, unknown, right)])
    result = runner.invoke(app, ["ingest", str(src), "--db", db, "--rejects", str(tmp_path / "rej.jsonl")])
    assert "accepted 2  duplicate 0  rejected 2" in result.output
    reasons = [json.loads(x)["problems"][0] for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert reasons[0]["field"] == "stream_id"
    assert reasons[1]["field"] == "data.retracted_event_id"


def test_conflicting_event_id_is_rejected_with_its_line_number(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    first = _write(tmp_path / "a.jsonl", [json.dumps(_actualised(1))])
    assert runner.invoke(app, ["ingest", str(first), "--db", db]).exit_code == 0
    other = _actualised(1, data={"person": "P-other", "channel": "report", "target_group": "children"})
    second = _write(tmp_path / "b.jsonl", [json.dumps(_actualised(2)), json.dumps(other)])
    result = runner.invoke(app, ["ingest", str(second), "--db", db, "--rejects", str(tmp_path / "rej.jsonl")])
    assert result.exit_code == 1, result.output
    assert "accepted 1  duplicate 0  rejected 1" in result.output
    [rejected] = [json.loads(x) for x in (tmp_path / "rej.jsonl").read_text().splitlines()]
    assert rejected["line"] == 2 and rejected["problems"][0]["field"] == "event_id"
    assert str(uuid.UUID(int=1)) in rejected["problems"][0]["reason"]
