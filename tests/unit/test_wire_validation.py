"""Wire validation: a rejected event names the line, the field and the reason; no personnummer passes.

Random malformed input is fuzzed in test_fuzz_decode.py and canonical UUIDs in test_privacy_uuid.py;
these are the concrete cases a producer meets, with the exact field paths and messages.
"""

from __future__ import annotations

import copy
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.codec import MAX_EVENT_BYTES, EventError, Rejected, decode, decode_dict, read_jsonl
from services.ingest import ingest_lines
from services.store import open_store

GOLDEN = Path(__file__).parent / "golden"


def golden(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


ACTUALISED = golden("case.actualised.v1")
STARTED = golden("placement.started.v2")
BUDGET = golden("budget.set.v1")


def rejected(raw: Any) -> EventError:
    with pytest.raises(EventError) as exc:
        decode_dict(raw)
    return exc.value


def changed(base: dict[str, Any], **data: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    out["data"].update(data)
    return out


# --- fields and reasons -----------------------------------------------------------------------------

def test_missing_field_is_named_with_its_path() -> None:
    raw = copy.deepcopy(STARTED)
    del raw["data"]["placement_id"]
    err = rejected(raw)
    assert [(p.field, p.reason) for p in err.problems] == [("data.placement_id", "Field required")]


def test_every_bad_field_is_reported_not_just_the_first() -> None:
    err = rejected(changed(STARTED, category="castle", price_sek="dyr", price_unit="week"))
    fields = {p.field for p in err.problems}
    assert fields == {"data.category", "data.price_sek", "data.price_unit"}
    assert "'institution'" in next(p.reason for p in err.problems if p.field == "data.category")


def test_cross_field_rule_names_the_payload() -> None:
    err = rejected(changed(STARTED, regime="own", unit_id=None))
    assert err.problems[0].field == "data"
    assert "unit_id is required when regime is 'own'" in err.problems[0].reason


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("municipality", "188", "should match pattern"),
    ("event_id", "12", "UUID"),
    ("occurred_at", "2021-13-01", "month must be in 1..12"),
    ("stream_id", "", "at least 1 character"),
])
def test_bad_envelope_fields(field: str, value: str, reason: str) -> None:
    err = rejected({**ACTUALISED, field: value})
    assert err.problems[0].field == field and reason in err.message


def test_unknown_field_in_data_is_refused() -> None:
    err = rejected(changed(ACTUALISED, name="Kalle"))
    assert (err.problems[0].field, err.problems[0].reason) == ("data.name", "Extra inputs are not permitted")


def test_store_fields_may_not_be_given_from_outside() -> None:
    err = rejected({**ACTUALISED, "position": 7})
    assert err.message == "position: is set by the event store and may not be given"
    assert decode_dict({**ACTUALISED, "position": 7}, from_store=True).position == 7


def test_unknown_type_lists_the_known_ones() -> None:
    err = rejected({**ACTUALISED, "type": "case.reopened"})
    assert err.problems[0].field == "type"
    assert "unknown event type 'case.reopened'" in err.message and "placement.started" in err.message


def test_unknown_version_lists_the_known_ones() -> None:
    err = rejected({**STARTED, "version": 3})
    assert err.message == "version: unknown version 3 of placement.started (known: (1, 2))"
    assert rejected({**ACTUALISED, "version": "1"}).problems[0].field == "version"


def test_oversized_and_non_object_events() -> None:
    padded = changed(ACTUALISED)
    padded["pad"] = "x" * MAX_EVENT_BYTES
    with pytest.raises(EventError, match=r"over the limit of 65536"):
        decode(orjson.dumps(padded))
    with pytest.raises(EventError, match="must be a JSON object, got list"):
        decode(b"[1, 2]")
    with pytest.raises(EventError, match="not valid JSON"):
        decode(b'{"type": ')


def test_free_text_is_limited() -> None:
    closed = golden("case.closed.v1")
    err = rejected(changed(closed, comment="x" * 201))
    assert err.problems[0].field == "data.comment" and "at most 200 characters" in err.message


# --- personnummer -----------------------------------------------------------------------------------

PNR_FORMS = ["19811218-9876", "811218-9876", "811218+9876", "8112189876", "198112189876", "811278-9873"]


@pytest.mark.parametrize("pnr", PNR_FORMS)
def test_personnummer_as_person_is_rejected_and_masked(pnr: str) -> None:
    err = rejected(changed(ACTUALISED, person=pnr))
    assert err.problems[0].field == "data.person"
    assert "personnummer" in err.message and pnr not in err.message and pnr[2:] not in err.message


@pytest.mark.parametrize(("where", "make"), [
    ("stream_id", lambda p: {**ACTUALISED, "stream_id": f"case:{p}"}),
    ("data.comment", lambda p: changed(golden("case.closed.v1"), comment=f"Kontakt med {p} i dag")),
    ("data.reporter_category", lambda p: changed(ACTUALISED, reporter_category=p)),
    ("data.birth_year", lambda p: changed(ACTUALISED, birth_year=int(p.replace("-", "")))),
    ("data.line.activity", lambda p: changed(BUDGET, line={**BUDGET["data"]["line"], "activity": p})),
    ("data.81*********", lambda p: changed(ACTUALISED, **{p: "x"})),
])
def test_personnummer_anywhere_is_rejected_naming_where(where: str, make: Any) -> None:
    err = rejected(make("811218-9876"))
    assert err.problems[0].field == where
    assert "811218-9876" not in err.message and "8112189876" not in err.message


@pytest.mark.parametrize("person", [
    "psn:7f3a9c21e4", "P-00042", "811218-9875",  # Luhn digit wrong
    "811318-9876",  # month 13
    "811218-98765", "81121898760",  # too many digits
    "HASH-8a1c44e0b9d2", "1880-2021-000042",
])
def test_pseudonymous_ids_are_accepted(person: str) -> None:
    event = decode_dict(changed(ACTUALISED, person=person))
    assert event.data.person == person  # type: ignore[attr-defined]


def test_ordinary_amounts_and_dates_pass_the_guard() -> None:
    raw = changed(golden("ledger.posted.v1"), amount_sek=3387412)
    assert decode_dict(raw).data.amount_sek == 3387412  # type: ignore[attr-defined]


# --- lines ------------------------------------------------------------------------------------------

def test_jsonl_rejections_name_line_field_and_reason() -> None:
    lines = [json.dumps(ACTUALISED), "", "not json", json.dumps(changed(STARTED, person="811218-9876")),
             json.dumps(changed(STARTED, price_unit="week"))]
    out = list(read_jsonl(lines))
    assert [type(x).__name__ for x in out] == ["CaseActualisedEvent", "Rejected", "Rejected", "Rejected"]
    bad = [x for x in out if isinstance(x, Rejected)]
    assert [r.line for r in bad] == [3, 4, 5]
    assert bad[1].error.message.startswith("line 4: data.person: contains a Swedish personnummer")
    assert bad[2].error.message.startswith("line 5: data.price_unit: Input should be 'day' or 'month'")


def test_ingest_writes_line_field_and_reason_and_keeps_the_good_lines() -> None:
    store = open_store("memory://")
    good = [copy.deepcopy(ACTUALISED) for _ in range(3)]
    for i, e in enumerate(good):
        e["event_id"] = f"0c5e7d2a-41b8-4f3e-9a6d-1000000000{i:02d}"
    lines = [json.dumps(good[0]), json.dumps({**good[1], "municipality": "x"}), json.dumps(good[1]),
             json.dumps(changed(good[2], channel="fax")), json.dumps(good[2])]
    rejects = io.BytesIO()
    report = ingest_lines(store, [ln.encode() for ln in lines], rejects, batch_size=2)
    assert (report.accepted, report.duplicates, report.rejected) == (3, 0, 2)
    written = [orjson.loads(x) for x in rejects.getvalue().splitlines()]
    where = [(w["line"], w["problems"][0]["field"]) for w in written]
    assert where == [(2, "municipality"), (4, "data.channel")]
    assert "should match pattern" in written[0]["problems"][0]["reason"]
    assert [e.position for e in store.read_all()] == [1, 2, 3]
    store.close()


def _luhn_digit(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


@settings(max_examples=300, deadline=None)
@given(
    day=st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    serial=st.integers(min_value=0, max_value=999),
    coordination=st.booleans(),
    century=st.booleans(),
    separator=st.sampled_from(["-", "+", ""]),
    where=st.sampled_from(["person", "stream_id", "comment_key"]),
)
def test_any_valid_personnummer_in_any_form_is_rejected(
    day: date, serial: int, coordination: bool, century: bool, separator: str, where: str
) -> None:
    dd = day.day + (60 if coordination else 0)
    nine = f"{day:%y%m}{dd:02d}{serial:03d}"
    pnr = (f"{day.year // 100}" if century else "") + nine[:6] + separator + nine[6:] + _luhn_digit(nine)
    if where == "person":
        raw, field = changed(ACTUALISED, person=pnr), "data.person"
    elif where == "stream_id":
        raw, field = {**ACTUALISED, "stream_id": f"case:{pnr}"}, "stream_id"
    else:
        raw, field = changed(ACTUALISED, **{f"x{pnr}": 1}), "data.x"
    err = rejected(raw)
    assert err.problems[0].field.startswith(field) and "personnummer" in err.message
    assert pnr not in err.message


def test_rejected_lines_never_repeat_a_personnummer() -> None:
    line = json.dumps(changed(ACTUALISED, person="19811218-9876", reporter_category="811218+9876"))
    (bad,) = list(read_jsonl([line]))
    assert isinstance(bad, Rejected)
    assert "9876" not in bad.text and '"person": "19***********"' in bad.text
    rejects = io.BytesIO()
    ingest_lines(open_store("memory://"), [line.encode(), b'{"id": "811218-9875 ok"}'], rejects)
    written = rejects.getvalue().decode()
    assert "811218-9876" not in written and "1218+9876" not in written
    assert "811218-9875 ok" in written  # not a personnummer (Luhn): kept as sent
