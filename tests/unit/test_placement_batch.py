"""The batch path of a compact state (`projections.placement_batch`) gives the object path's figures.

Random placement histories made for the batch path's edges: plain rows (no full facts, at most one
repricing day, whole-krona day prices) beside every kind of row it must leave to the objects
(monthly prices, öre, a price beyond its integer limit, two repricing days, corrections, retraction
targets); repricings before the start, on it and after the period; departures before, on and after
the period's first day; open placements; persons in several placements, plain and not; external
lines of every category and own units with and without places. For each, over periods from a
single day to two years, the externa-köp line figures, the monthly occupancy, the unknown units and
the unique LVU / LVM individuals of the compact state must equal those of the ordinary fold (which
resolves every placement to an object), and the split must have put rows on both sides.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

from events import Event
from events.reference import EventRetracted
from events.timeutil import STOCKHOLM, Period
from events.vocabulary import UnitKind
from projections import bundle, care_costs, lvu_lvm, occupancy, placement_batch
from projections.lines import LineKey
from projections.occupancy_totals import Measure
from tests.unit import builders as b

CATEGORIES = ("institution", "family_home_internal", "family_home_external", "contact_person",
              "outpatient_day_priced", "outpatient_other", "emergency_home_contracted",
              "institution_substance")
UNITS = ("U1", "U2", "U3")  # U3 has no places: an unknown unit
PERIODS = [Period.year(2021), Period.year(2022), Period(date(2021, 1, 1), date(2022, 12, 31)),
           Period(date(2021, 3, 1), date(2021, 3, 31)), Period(date(2021, 6, 15), date(2021, 6, 15)),
           Period(date(2021, 2, 10), date(2021, 8, 20)), Period.year(2019)]


def _day(rng: random.Random) -> date:
    return date(2021, 1, 1) + timedelta(days=rng.randint(-40, 560))


def _at(rng: random.Random, day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=STOCKHOLM) + timedelta(hours=rng.randint(-90, 90))


def _price(rng: random.Random) -> tuple[Decimal | int, str]:
    kind = rng.random()
    if kind < 0.75:
        return rng.randint(1, 40) * 100, "day"
    if kind < 0.85:
        return rng.randint(10, 60) * 1000, "month"
    if kind < 0.95:
        return Decimal(rng.randint(100, 4000)) + Decimal("0.50"), "day"
    return 10**9 + rng.randint(1, 9), "day"


def _placement(rng: random.Random, n: int, persons: list[str]) -> list[Event]:
    pid, start = f"pl:{n}", _day(rng)
    own = rng.random() < 0.3
    price, unit = _price(rng)
    out = [b.placement_started(pid, start, person=rng.choice(persons), price=price, price_unit=unit,
                               recorded_at=_at(rng, start), category=rng.choice(CATEGORIES),
                               regime="own" if own else "purchased",
                               unit_id=rng.choice(UNITS) if own else None,
                               target_group=rng.choice(("children", "youth", "adults")),
                               legal_basis=rng.choice(("SoL", "LVU", "LVM")),
                               sex=rng.choice(("female", "male")))]
    for _ in range(rng.choice((0, 1, 1, 1, 2))):
        day = start + timedelta(days=rng.choice((-2, 0, 3, 40, 400)))
        new, new_unit = _price(rng) if rng.random() < 0.2 else (rng.randint(1, 40) * 100, "day")
        out.append(b.placement_repriced(pid, day, new, price_unit=new_unit, recorded_at=_at(rng, day)))
    if rng.random() < 0.7:
        stop = start + timedelta(days=rng.choice((1, 5, 30, 200, 700)))
        out.append(b.placement_ended(pid, stop, recorded_at=_at(rng, stop)))
    if rng.random() < 0.08:
        day = start + timedelta(days=10)
        out.append(b.placement_corrected(pid, day, end=day + timedelta(days=20), recorded_at=_at(rng, day)))
    return out


def _history(seed: int) -> list[Event]:
    rng = random.Random(seed)
    persons = [f"PER-{k}" for k in range(60 + 10 * seed)]
    events = [b.unit_capacity_set("U1", "2020-06-01", 6), b.unit_capacity_set("U2", "2021-04-01", 3),
              b.unit_capacity_set("U1", "2021-09-01", 8)]
    for n in range(150 + 40 * seed):
        events += _placement(rng, n, persons)
    events.append(b.placement_ended("pl:0", "2021-01-01", recorded_at=datetime(2023, 1, 1, tzinfo=STOCKHOLM)))
    placed = [e for e in events if e.type.startswith("placement.")]
    events += [b.retracted(e, "2022-06-01") for e in rng.sample(placed, len(placed) // 25)]
    rng.shuffle(events)
    return events


def _targets(events: list[Event]) -> frozenset:  # type: ignore[type-arg]
    return frozenset(e.data.retracted_event_id for e in events if isinstance(e.data, EventRetracted))


@pytest.mark.parametrize("seed", range(5))
def test_batch_figures_equal_the_object_path(seed: int) -> None:
    events = _history(seed)
    full = bundle.fold(events)
    small = bundle.fold(events, bundle.compact(_targets(events)))
    assert full.care_costs.compact is None and small.care_costs.compact is not None
    sides = [0, 0]
    for period in PERIODS:
        plain, others = small.care_costs.split(period)
        assert plain is not None
        sides[0] += len(plain.code)
        sides[1] += len(others)
        lines = care_costs.line_figures(small.care_costs, period)
        assert lines == care_costs.line_figures(full.care_costs, period)
        assert lvu_lvm.unique_individuals(small.care_costs, period) == \
            lvu_lvm.unique_individuals(full.care_costs, period)
        assert occupancy.unknown_units(small.occupancy, small.care_costs, period) == \
            occupancy.unknown_units(full.occupancy, full.care_costs, period)
        chosen: dict[UnitKind, Measure] = {"long_stay": "individuals"}
        for measures in (None, chosen):
            assert occupancy.monthly_occupancy(small.occupancy, small.care_costs, period,
                                               measures=measures) == occupancy.monthly_occupancy(
                full.occupancy, full.care_costs, period, measures=measures)
    assert sides[0] > 100 and sides[1] > 20  # the history reaches both paths


def test_a_split_is_kept_until_the_state_changes() -> None:
    events = _history(0)
    small = bundle.fold(events, bundle.compact(_targets(events)))
    period = PERIODS[0]
    first = small.care_costs.split(period)
    assert small.care_costs.split(period) is first
    bundle.apply(small, b.placement_started("pl:new", "2021-05-01", price=700))
    again = small.care_costs.split(period)
    assert again is not first and again[0] is not None and first[0] is not None
    assert len(again[0].code) == len(first[0].code) + 1


def test_the_state_arrays_stay_growable_after_a_split() -> None:
    """The split copies the columns: a numpy view would pin them (BufferError on the next append)."""
    small = bundle.compact(frozenset())
    bundle.apply(small, b.placement_started("pl:1", "2021-05-01", price=700))
    small.care_costs.split(PERIODS[0])
    for n in range(2, 50):
        bundle.apply(small, b.placement_started(f"pl:{n}", "2021-05-01", price=700))
    plain, _ = small.care_costs.split(PERIODS[0])
    assert plain is not None and len(plain.code) == 49


def test_a_repricing_on_the_last_covered_day_is_the_price_in_effect() -> None:
    """The line's price is the mean of the prices in effect on its last covered day, a repricing of
    that very day included (one plain row repriced on 31 December, one not, one that left before)."""
    events = [b.placement_started("pl:a", "2021-01-01", price=100, person="PER-a"),
              b.placement_repriced("pl:a", "2021-12-31", 300),
              b.placement_started("pl:b", "2021-03-01", price=200, person="PER-b"),
              b.placement_repriced("pl:b", "2022-01-01", 900),
              b.placement_started("pl:c", "2021-02-01", price=5000, person="PER-a"),
              b.placement_ended("pl:c", "2021-06-01")]
    full, small = bundle.fold(events), bundle.fold(events, bundle.compact(frozenset()))
    year = Period.year(2021)
    plain, others = small.care_costs.split(year)
    assert plain is not None and len(plain.code) == 3 and others == []
    line = care_costs.line_figures(small.care_costs, year)[LineKey("institution", "children")]
    assert (line.latest_price_sek, line.latest_price_unit) == (Decimal(250), "day")
    cost = 364 * 100 + 300 + 306 * 200 + 120 * 5000
    assert (line.care_days, line.cost_sek, line.persons) == (365 + 306 + 120, Fraction(cost), 2)
    assert care_costs.line_figures(small.care_costs, year) == care_costs.line_figures(full.care_costs, year)


def test_a_person_in_two_placements_started_the_same_day_takes_the_sex_of_the_higher_id() -> None:
    """LVU individuals by sex: one person, placements of the same start day with different sexes
    (plain rows and a row left to the objects, a monthly price); the highest placement id decides."""
    day = "2021-04-01"
    events = [b.placement_started("pl:1", day, person="PER-x", legal_basis="LVU", sex="female", price=900),
              b.placement_started("pl:3", day, person="PER-x", legal_basis="LVU", sex="male", price=900),
              b.placement_started("pl:2", day, person="PER-x", legal_basis="LVU", sex="female", price=9000,
                                  price_unit="month"),
              b.placement_started("pl:4", day, person="PER-y", legal_basis="LVU", sex="female", price=9000,
                                  price_unit="month"),
              b.placement_started("pl:0", day, person="PER-y", legal_basis="LVU", sex="male", price=900)]
    full, small = bundle.fold(events), bundle.fold(events, bundle.compact(frozenset()))
    year = Period.year(2021)
    plain, others = small.care_costs.split(year)
    assert plain is not None and len(plain.code) == 3 and len(others) == 2
    found = lvu_lvm.unique_individuals(small.care_costs, year)["LVU"]
    assert found.by_sex == {"female": frozenset({"PER-y"}), "male": frozenset({"PER-x"})}
    assert lvu_lvm.unique_individuals(full.care_costs, year) == \
        lvu_lvm.unique_individuals(small.care_costs, year)


def test_person_numbers_on_columns_are_equal_exactly_for_equal_tokens() -> None:
    tokens = ["psn:a", "psn:ab", "", "psn:a\0", "psn:å", "psn:a", "", "psn:ab", "x" * 40, "psn:å"]
    raw = [t.encode() for t in tokens]
    text = b"".join(raw)
    begin = np.cumsum([0, *map(len, raw)])[:-1].astype(np.int64)
    length = np.array([len(r) for r in raw], dtype=np.int64)
    persons, numbers = placement_batch.Persons.numbered(text, begin, length)
    assert len(persons) == len(set(tokens))
    for i, a in enumerate(tokens):
        assert persons.token(int(numbers[i])) == a
        assert persons.number_of(a) == numbers[i]
        for j, other in enumerate(tokens):
            assert (numbers[i] == numbers[j]) == (a == other)
    for absent in ("psn:", "psn:a\0\0", "y" * 41, "psn:b"):
        assert persons.number_of(absent) is None
    empty, none = placement_batch.Persons.numbered(b"", np.zeros(0, np.int64), np.zeros(0, np.int64))
    assert len(empty) == 0 and len(none) == 0 and empty.number_of("psn:a") is None
