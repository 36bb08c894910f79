"""Figure-by-figure comparison and manifest matching used by verify and diff."""

from __future__ import annotations

from pathlib import Path

from projections.reports.base import Column
from services.audit import compare, digest
from services.audit.matcher import Findings, Matcher

COLUMNS = (
    Column("line", "Verksamhet", "text"),
    Column("persons", "Personer", "number"),
    Column("row_type", "Radtyp", "text"),
)


def test_changes_key_rows_by_their_labels_not_their_place() -> None:
    before = [
        {"line": "Barn", "persons": 2, "row_type": "detail"},
        {"line": "Totalt", "persons": 2, "row_type": "total"},
    ]
    after = [
        {"line": "Unga", "persons": 1, "row_type": "detail"},
        {"line": "Barn", "persons": "5/2", "row_type": "detail"},
        {"line": "Totalt", "persons": "7/2", "row_type": "total"},
    ]
    found = [(c.row, c.column, c.before, c.after) for c in compare.changes(COLUMNS, before, after)]
    assert found == [
        ("Barn / detail", "persons", 2, "5/2"),
        ("Totalt / total", "persons", 2, "7/2"),
        ("Unga / detail", compare.ROW, None, "finns"),
    ]
    assert compare.shown("7/2") == "3.5000" and compare.shown(None) == "–"
    assert compare.changes(COLUMNS, before, before) == []


def test_matcher_names_changed_added_and_missing_events(tmp_path: Path) -> None:
    path = tmp_path / "m.tsv.gz"
    with digest.EventDigest(path) as d:
        for pos in (1, 2, 3, 5):
            d.add(pos, f"id-{pos}", f"event {pos}".encode())
    entries = list(digest.read_manifest(path))
    assert [e.position for e in entries] == [1, 2, 3, 5]
    findings = Findings()
    m = Matcher(iter(entries), findings)
    m.see(1, "id-1", digest.sha256_hex(b"event 1"))
    m.see(2, "id-2", digest.sha256_hex(b"tampered"))
    m.see(4, "id-4", digest.sha256_hex(b"event 4"))  # 3 went missing, 4 is new
    m.finish()  # 5 went missing
    text = "\n".join(findings.summary())
    assert findings.count == 4
    assert "id-2 at position 2: stored bytes changed" in text
    assert "id-3 at position 3: included in the proof, no longer included" in text
    assert "id-4 at position 4: included now" in text and "id-5 at position 5" in text
    assert "id-1" not in text


def test_events_hash_is_the_sha256_of_the_payloads_as_jsonl() -> None:
    d = digest.EventDigest()
    for pos, raw in enumerate((b'{"a":1}', b'{"b":2}'), start=1):
        d.add(pos, str(pos), raw)
    assert d.sha256 == digest.sha256_hex(b'{"a":1}\n{"b":2}\n')
    assert (d.count, d.first_position, d.last_position) == (2, 1, 2)
