"""The trusted decode of replay (`services.audit.trusted`) builds exactly the events validation builds.

Every golden sample and every event of simulated histories (several seeds) is encoded as the store
stores it and decoded both ways; the events must be equal (every field, the payload class, the types
of the values). Bytes the trusted path does not take (old versions, sealed parts, odd values) fall
back to validation.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from events import decode, decode_dict, encode
from events.timeutil import STOCKHOLM
from services.audit.source import decode_stored
from services.audit.trusted import trusted
from services.simulator.history import Simulation, SimulationConfig

GOLDEN = Path(__file__).parent / "golden"
APPENDED = datetime(2022, 3, 1, 8, 30, tzinfo=UTC)


def _validated(raw: bytes, position: int) -> object:
    event = decode(raw, from_store=True)
    return event.model_copy(update={"position": position, "appended_at": APPENDED})


def _same(raw: bytes, position: int) -> bool:
    value = orjson.loads(raw)
    fast = trusted(value, position, APPENDED)
    want = _validated(raw, position)
    if fast is not None:
        assert fast == want
        assert type(fast) is type(want) and repr(fast.data) == repr(want.data)  # same classes, types, digits
        for name in ("occurred_at", "recorded_at", "appended_at"):  # tzinfo classes differ, the offsets not
            assert str(getattr(fast, name)) == str(getattr(want, name))
    assert decode_stored(raw, position, APPENDED) == want
    return fast is not None


def test_golden_samples() -> None:
    taken = 0
    for n, path in enumerate(sorted(GOLDEN.glob("*.json")), start=1):
        raw = encode(decode_dict(orjson.loads(path.read_bytes())), with_store_fields=False)
        taken += _same(raw, n)
    assert taken >= 8


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_simulated_histories(seed: int) -> None:
    until = datetime(2021, 6, 1, tzinfo=STOCKHOLM)
    config = SimulationConfig(start_year=2021, years=1, scale=0.1, until=until)
    simulated = Simulation(config, random.Random(seed)).events()
    raws = [encode(decode_dict(r), with_store_fields=False) for r in simulated]
    taken = sum(_same(raw, n) for n, raw in enumerate(raws, start=1))
    assert taken > len(raws) // 2


def test_what_the_trusted_path_leaves_to_validation() -> None:
    base = {"event_id": "6f1c4a52-0c51-4a4e-9a53-4c8d3f9e0a11", "type": "placement.repriced", "version": 1,
            "stream_id": "pl:1", "municipality": "1880", "occurred_at": "2021-03-01",
            "recorded_at": "2021-03-02T10:00:00+01:00",
            "data": {"placement_id": "pl:1", "price_sek": 2100, "price_unit": "day"}}
    assert trusted(base, 1, APPENDED) is not None
    for changed in ({"version": 2}, {"sealed": {}}, {"data": {**base["data"], "price_sek": "abc"}},  # type: ignore[dict-item]
                    {"data": {**base["data"], "extra": 1}}, {"occurred_at": 12}):  # type: ignore[dict-item]
        assert trusted({**base, **changed}, 1, APPENDED) is None
    assert _same(orjson.dumps({**base, "data": {**base["data"], "price_sek": "2100.50"}}), 3)
