"""Golden samples: one realistic event per (type, version) in tests/unit/golden/, forever decodable.

A sample of the latest version of its type is stored in canonical form (every field, as `encode`
writes it), so a change of a default, a field name or the encoding of money shows up here. A sample
of a superseded version (placement.started v1) is stored as producers sent it and must upcast.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from events.codec import decode, decode_dict, encode
from events.placement import PlacementStarted
from events.registry import KNOWN_VERSIONS, LATEST, VERSIONS

GOLDEN = Path(__file__).parent / "golden"
ALL = sorted((t, v) for t, versions in KNOWN_VERSIONS.items() for v in versions)


def sample(etype: str, version: int) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN / f"{etype}.v{version}.json").read_text(encoding="utf-8"))
    return loaded


def test_every_type_and_version_has_exactly_one_sample() -> None:
    present = {p.name for p in GOLDEN.glob("*.json")}
    wanted = {f"{t}.v{v}.json" for t, v in ALL}
    assert wanted - present == set(), "missing golden samples"
    assert present - wanted == set(), "golden samples of no known (type, version)"
    assert set(ALL) == set(VERSIONS), "every known version has a payload model (and so a schema)"
    assert ("placement.started", 1) in ALL and ("placement.started", 2) in ALL


@pytest.mark.parametrize(("etype", "version"), ALL)
def test_sample_decodes_to_the_latest_version(etype: str, version: int) -> None:
    raw = sample(etype, version)
    assert raw["type"] == etype and raw.get("version", 1) == version
    event = decode(json.dumps(raw, ensure_ascii=False).encode())
    assert event.type == etype
    assert event.version == LATEST[etype].VERSION
    assert isinstance(event.data, LATEST[etype])


@pytest.mark.parametrize(("etype", "version"), [(t, v) for t, v in ALL if v == LATEST[t].VERSION])
def test_latest_sample_is_canonical_and_round_trips_to_the_same_bytes(etype: str, version: int) -> None:
    raw = sample(etype, version)
    first = encode(decode_dict(raw))
    assert orjson.loads(first) == raw, "the sample is not in canonical form (or the encoding changed)"
    assert encode(decode(first)) == first


def test_placement_started_v1_upcasts_to_a_day_price() -> None:
    raw = sample("placement.started", 1)
    event = decode_dict(raw)
    assert isinstance(event.data, PlacementStarted)
    assert event.data.price_sek == Decimal(raw["data"]["price_per_day_sek"])
    assert event.data.price_unit == "day"
    assert event.data.person == raw["data"]["person"] and event.data.legal_basis == raw["data"]["legal_basis"]
    again = decode(encode(event))  # stored as version 2 from then on
    assert again.version == 2 and again == event


def test_canonical_bytes_do_not_depend_on_key_order_or_money_spelling() -> None:
    raw = sample("placement.started", 2)
    shuffled = dict(reversed(list(raw.items())))
    shuffled["data"] = {**dict(reversed(list(raw["data"].items()))), "price_sek": "1875.50"}
    assert encode(decode_dict(shuffled)) == encode(decode_dict(raw))
