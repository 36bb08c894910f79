"""The simulator on one simulated month: reproducible bytes, valid events, registration order, noise.

Every generated event goes through the real codec (`events.decode_dict`), which also rejects any
personnummer-shaped value, so "every event decodes" covers the privacy rule too.
"""

from __future__ import annotations

import io
import random
import re
from collections import Counter
from datetime import date, datetime

import pytest

from events import decode_dict
from events.timeutil import STOCKHOLM, local_date
from services.simulator.calibration import CalibrationError, load, parse
from services.simulator.core import Raw
from services.simulator.history import Simulation, SimulationConfig
from services.simulator.live import LiveFeed
from services.simulator.sinks import write_jsonl

MONTH = SimulationConfig(start_year=2021, years=1, until=datetime(2021, 2, 1, tzinfo=STOCKHOLM))
PSEUDONYM = re.compile(r"^p-[0-9]{4}-[0-9]{6}$")


def month_events(seed: int, config: SimulationConfig = MONTH) -> list[Raw]:
    return list(Simulation(config, random.Random(seed)).events())


TWO_MONTHS = SimulationConfig(start_year=2021, years=1, until=datetime(2021, 3, 1, tzinfo=STOCKHOLM))


@pytest.fixture(scope="module")
def events() -> list[Raw]:
    return month_events(11, TWO_MONTHS)


def jsonl(seed: int) -> bytes:
    buf = io.BytesIO()
    write_jsonl(Simulation(MONTH, random.Random(seed)).events(), buf)
    return buf.getvalue()


def test_same_seed_gives_identical_bytes_and_another_seed_does_not() -> None:
    first = jsonl(5)
    assert first == jsonl(5)
    assert first != jsonl(6)


def test_every_event_decodes_and_persons_are_pseudonyms(events: list[Raw]) -> None:
    decoded = [decode_dict(e) for e in events]
    assert len(decoded) > 3000
    persons = {e["data"]["person"] for e in events if "person" in e["data"]}
    assert persons and all(PSEUDONYM.match(p) for p in persons)


def test_all_event_kinds_of_the_history_occur(events: list[Raw]) -> None:
    kinds = Counter(e["type"] for e in events)
    for kind in ("case.actualised", "assessment.completed", "investigation.opened", "investigation.closed",
                 "intervention.decided", "case.closed", "placement.started", "placement.ended",
                 "placement.repriced", "unit.capacity_set", "budget.set", "ledger.posted"):
        assert kinds[kind] > 0, kind
    in_history = sum(e["type"] == "case.actualised" and e["occurred_at"] >= "2021-01-01" for e in events)
    assert 1700 <= in_history <= 2500  # ~12.7 k a year: January and February (the rest: cases open before)


def test_output_is_in_registration_order_and_never_registered_before_it_happens(events: list[Raw]) -> None:
    recorded = [datetime.fromisoformat(e["recorded_at"]) for e in events]
    assert recorded == sorted(recorded)
    assert max(recorded) <= TWO_MONTHS.cutoff
    pairs = list(zip(recorded, events, strict=True))
    assert all(local_date(r) >= date.fromisoformat(e["occurred_at"])
               for r, e in pairs if e["type"] != "budget.set")
    late = sum((local_date(r) - date.fromisoformat(e["occurred_at"])).days >= 3
               for r, e in zip(recorded, events, strict=True))
    assert late > 0.05 * len(events)  # late registration is part of the history


def test_retractions_follow_their_event_on_the_same_stream() -> None:
    events = month_events(3, SimulationConfig(start_year=2021, years=1,
                                              until=datetime(2021, 4, 1, tzinfo=STOCKHOLM)))
    seen: dict[str, str] = {}
    retractions = 0
    for e in events:
        if e["type"] == "event.retracted":
            retractions += 1
            assert seen[e["data"]["retracted_event_id"]] == e["stream_id"]
        seen[e["event_id"]] = e["stream_id"]
    assert retractions > 0
    assert any(e["type"] == "placement.corrected" for e in events)


def test_a_later_cutoff_only_adds_events() -> None:
    short = month_events(9)
    longer = month_events(9, TWO_MONTHS)
    assert longer[: len(short)] == short


def test_live_feed_events_decode_and_carry_now() -> None:
    clock = datetime(2026, 5, 4, 10, 30, tzinfo=STOCKHOLM)
    sim = Simulation(MONTH, random.Random(1))
    list(sim.events())
    running = [d["placement_id"] for d in sim.open_placements(sim.contexts[0]) if "unit_id" not in d]
    feed = LiveFeed(load(), "1880", random.Random(2), lambda: clock, running)
    out = [decode_dict(feed.tick()) for _ in range(400)]
    assert {e.type for e in out} >= {"case.actualised", "assessment.completed", "placement.started",
                                     "placement.ended"}
    assert all(e.recorded_at == clock and e.business_date == date(2026, 5, 4) for e in out)


def test_calibration_names_its_source_and_missing_fields_are_named() -> None:
    cal = load()
    assert cal.source.startswith("000_")
    assert len(cal.lines) == 18 and len(cal.units) == 14
    with pytest.raises(CalibrationError, match="intake"):
        parse({"name": "x", "municipality": "1880", "year": 2021})


def test_two_municipalities_interleave_with_their_own_ids() -> None:
    config = SimulationConfig(start_year=2021, years=1, municipalities=("1880", "0180"), scale=0.2,
                              until=datetime(2021, 1, 15, tzinfo=STOCKHOLM))
    events = month_events(4, config)
    by_municipality = Counter(e["municipality"] for e in events)
    assert by_municipality["1880"] > 100 and by_municipality["0180"] > 100
    assert len({e["event_id"] for e in events}) == len(events)
    persons = [(e["municipality"], e["data"]["person"]) for e in events if "person" in e["data"]]
    assert all(person.startswith(f"p-{code}-") for code, person in persons)
    recorded = [datetime.fromisoformat(e["recorded_at"]) for e in events]
    assert recorded == sorted(recorded)
