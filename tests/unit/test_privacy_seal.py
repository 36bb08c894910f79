"""The sealed personal part and retention policies: AES-GCM round trip, AAD, determinism, policy errors."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest

from events import CaseActualised, Event, EventError, decode_dict, encode
from services.privacy.crypto import SealError, new_key, seal, unseal
from services.privacy.policy import PolicyError, load, parse
from services.privacy.retention import PersonFacts, rule_for
from services.privacy.sealing import personal_fields, sealed_event
from tests.unit import builders as b

EVENT = uuid.UUID("0c5e7d2a-41b8-4f3e-9a6d-000000000001")


def actualised(birth_year: int | None = 2009) -> Event:
    return b.envelope("case.actualised", "case:g1", "2021-02-01", {
        "person": "psn:g1", "channel": "report", "target_group": "youth", "birth_year": birth_year})


def test_round_trip_and_the_same_event_seals_to_the_same_bytes() -> None:
    key = new_key()
    part = seal(key, "psn:g1", EVENT, {"birth_year": 2009, "comment": "Flyttat"})
    assert part.alg == "AES-256-GCM" and part.key == "psn:g1"
    assert unseal(key, part, EVENT) == {"birth_year": 2009, "comment": "Flyttat"}
    assert seal(key, "psn:g1", EVENT, {"comment": "Flyttat", "birth_year": 2009}) == part
    assert seal(key, "psn:g1", EVENT, {"birth_year": 2010}).nonce != part.nonce  # no nonce reuse


def test_a_sealed_part_does_not_open_on_another_event_or_with_another_key() -> None:
    key = new_key()
    part = seal(key, "psn:g1", EVENT, {"birth_year": 2009})
    with pytest.raises(SealError, match="wrong event"):
        unseal(key, part, uuid.UUID(int=EVENT.int + 1))
    with pytest.raises(SealError):
        unseal(new_key(), part, EVENT)


def test_the_stored_form_keeps_public_fields_and_nulls_the_personal_ones() -> None:
    event = actualised()
    fields = personal_fields(event)
    assert fields == {"birth_year": 2009}
    key = new_key()
    stored = sealed_event(event, "psn:g1", key, fields)
    assert isinstance(stored.data, CaseActualised)
    assert stored.data.birth_year is None and stored.data.person == "psn:g1"
    assert b"2009" not in encode(stored) and b'"sealed"' in encode(stored)
    again = decode_dict(orjson.loads(encode(stored)), from_store=True)
    assert again == stored and personal_fields(again) == {}
    assert stored.sealed is not None and unseal(key, stored.sealed, stored.event_id) == fields
    assert b'"sealed"' not in encode(actualised(None))  # unsealed events keep their old bytes


def test_producers_may_not_send_a_sealed_part_and_required_personal_fields_stay_required() -> None:
    raw = {"event_id": str(EVENT), "type": "event.retracted", "stream_id": "pl-1", "municipality": "1880",
           "occurred_at": "2021-05-20", "data": {"retracted_event_id": str(uuid.UUID(int=5))}}
    with pytest.raises(EventError, match=r"data\.reason: Field required"):
        decode_dict(raw)
    with pytest.raises(EventError, match="sealed: is set by the platform"):
        decode_dict({**raw, "sealed": {"key": "psn:x", "nonce": "AAAA", "ciphertext": "AAAA"}})


def test_the_example_policy_file_loads() -> None:
    policies = load(Path(__file__).parents[2] / "deploy" / "retention.yaml")
    assert [p.name for p in policies.policies] == ["socialtjanst"]


def test_a_bad_policy_file_names_the_line_and_the_field() -> None:
    text = ("policies:\n  - name: sol\n    keep_years: 5\n    overrides:\n      - name: lvu\n"
            "        legal_basis: [LVX]\n        keep: forever\n      - name: kort\n"
            "        legal_basis: [SoL]\n        keep_years: -1\n")
    with pytest.raises(PolicyError) as caught:
        parse(text, "r.yaml")
    lines = str(caught.value).splitlines()
    assert lines[0].startswith("r.yaml line 6: policies[0].overrides[0].legal_basis[0]: Input should be")
    assert lines[1].startswith("r.yaml line 10: policies[0].overrides[1].keep_years:")
    with pytest.raises(PolicyError, match=r"r\.yaml line 2: policies\[0\]\.colour: Extra inputs"):
        parse("policies:\n  - {name: a, keep_years: 1, colour: red}\n", "r.yaml")
    with pytest.raises(PolicyError, match="not valid YAML"):
        parse("policies: [", "r.yaml")


def test_the_most_protective_matching_override_decides() -> None:
    policy = parse("policies:\n  - name: sol\n    keep_years: 5\n    overrides:\n"
                   "      - {name: lvm, legal_basis: [LVM], keep_years: 10}\n"
                   "      - {name: lvu, legal_basis: [LVU], keep: forever}\n"
                   "      - {name: vuxna, target_group: [adults], keep_years: 7}\n").policies[0]
    adult = PersonFacts("1880", groups={"adults"}, bases={"SoL"})
    assert rule_for(policy, adult) == ("vuxna", 7)
    assert rule_for(policy, PersonFacts("1880", groups={"adults"}, bases={"LVM"})) == ("lvm", 10)
    assert rule_for(policy, PersonFacts("1880", groups={"adults"}, bases={"LVM", "LVU"})) == ("lvu", None)
    assert rule_for(policy, PersonFacts("1880", groups={"children"}, bases={"SoL"})) == ("default", 5)


def test_gallring_refuses_a_bad_policy_file_naming_it(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from services.privacy.cli import register

    app = typer.Typer()
    register(app)
    bad = tmp_path / "r.yaml"
    bad.write_text("policies:\n  - name: sol\n    keep_yeras: 5\n", encoding="utf-8")
    args = ["gallring", "--policy", str(bad), "--db", "memory://"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # rich wraps the message in a box
    assert "r.yaml line 3: policies[0].keep_yeras: Extra inputs are not permitted" in text
    assert "r.yaml line 2: policies[0].keep_years: Field required" in text


def test_projections_ignore_retention_applied() -> None:
    from projections import bundle
    from services.readmodel.facts import relevant

    golden = Path(__file__).parent / "golden" / "retention.applied.v1.json"
    event = decode_dict(orjson.loads(golden.read_bytes()))
    state = bundle.fold([event])
    assert state.events == 1 and relevant(event) == ()
    assert bundle.State(events=1) == state
