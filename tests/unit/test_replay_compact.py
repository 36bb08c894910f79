"""Compact mode (kompakt läge, `bundle.compact`) gives exactly the figures of the ordinary fold.

Compared: every report (canonical rows, the proof's JSON) over several periods, on simulated
histories of several seeds and on random placement / investigation histories full of what makes
the resolution hard: repricings on the same day, second starts, corrections recorded before the
facts they correct, retractions of every kind of fact, events folded out of registration order.
"""

from __future__ import annotations

import pickle
import random
from datetime import date, datetime, timedelta

import pytest

from events import Event, decode_dict
from events.reference import EventRetracted
from events.timeutil import STOCKHOLM, Period
from projections import bundle, care_costs, investigations
from projections.definitions import CURRENT, Params, build
from projections.placement_facts import Placement
from services.audit import digest
from services.simulator.history import Simulation, SimulationConfig
from tests.unit import builders as b
from tests.unit import event_builders_economy as eb

PERIODS = [Period.year(2021), Period(date(2021, 3, 1), date(2021, 5, 31)), Period.year(2022)]


def targets(events: list[Event]) -> frozenset:  # type: ignore[type-arg]
    return frozenset(e.data.retracted_event_id for e in events if isinstance(e.data, EventRetracted))


def reports(state: bundle.State) -> list[object]:
    out: list[object] = []
    for period in PERIODS:
        for name, version in CURRENT.items():
            report = build(state, name, version, period, Params())
            out.append((name, period, digest.canonical_rows(report.rows)))
    return out


def assert_same(events: list[Event]) -> None:
    full = bundle.fold(events)
    small = bundle.fold(events, bundle.compact(targets(events)))
    assert_compact_is(small, full)
    # as a checkpoint reads it back: the id indexes packed (`projections.id_index`), then folded on
    packed = pickle.loads(pickle.dumps(small))
    for compact in (packed.care_costs.compact, packed.investigations.compact):
        assert compact is not None and not compact.index.tail and len(compact.index)
    assert_compact_is(packed, full)
    for period in PERIODS:  # `near` resolves the placements that may cover the period: those that do
        def covers(p: Placement, period: Period = period) -> bool:
            return p.start <= period.end and (p.stop is None or p.stop > period.start)
        assert [p for p in packed.care_costs.resolved(period) if covers(p)] == [
            p for p in full.care_costs.resolved() if covers(p)]


def assert_compact_is(small: bundle.State, full: bundle.State) -> None:
    assert reports(small) == reports(full)
    day = date(2021, 6, 30)
    a, z = small.investigations, full.investigations
    assert investigations.overdue(a, day) == investigations.overdue(z, day)
    assert investigations.inconsistent(a) == investigations.inconsistent(z)
    assert investigations.investigations(a) == investigations.investigations(z)
    assert list(small.care_costs.resolved()) == list(full.care_costs.resolved())
    assert small.intake.counts == full.intake.counts
    assert (small.investigations.opened, small.investigations.durations) == (
        full.investigations.opened, full.investigations.durations)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_simulated_history(seed: int) -> None:
    config = SimulationConfig(start_year=2021, years=1, scale=0.15,
                              until=datetime(2021, 9, 1, tzinfo=STOCKHOLM))
    events = [decode_dict(raw) for raw in Simulation(config, random.Random(seed)).events()]
    assert any(isinstance(e.data, EventRetracted) for e in events)
    assert_same(events)


def _day(rng: random.Random) -> date:
    return date(2021, 1, 1) + timedelta(days=rng.randint(0, 500))


def _at(rng: random.Random, day: date) -> datetime:
    nine = datetime(day.year, day.month, day.day, 9, tzinfo=STOCKHOLM)
    return nine + timedelta(hours=rng.randint(-400, 400))


def _placement(rng: random.Random, pid: str) -> list[Event]:
    start = _day(rng)
    out = [b.placement_started(pid, start, price=rng.randint(1, 30) * 100, recorded_at=_at(rng, start),
                               regime=rng.choice(("own", "purchased")), unit_id="U1",
                               legal_basis=rng.choice(("SoL", "LVU")), sex=rng.choice(("female", "male")),
                               category=rng.choice(("institution", "family_home_internal")),
                               price_unit=rng.choice(("day", "month")))]
    for _ in range(rng.randint(0, 4)):
        kind, day = rng.random(), start + timedelta(days=rng.randint(-3, 90))
        at = _at(rng, day)
        if kind < 0.4:
            out.append(b.placement_repriced(pid, rng.choice((day, start + timedelta(days=5))),
                                            rng.randint(1, 30) * 100, recorded_at=at))
        elif kind < 0.6:
            out.append(b.placement_ended(pid, day, recorded_at=at))
        elif kind < 0.8:
            what = rng.choice(("start", "end", "reopen", "price"))
            out.append(b.placement_corrected(
                pid, day, start=day if what == "start" else None, recorded_at=at,
                end=day + timedelta(days=30) if what == "end" else None, reopen=what == "reopen",
                price=4200 if what == "price" or rng.random() < 0.3 else None))
        else:
            out.append(b.placement_started(pid, day, price=900, person=f"P-{pid}-2", recorded_at=at))
    return out


def _investigation(rng: random.Random, n: int) -> list[Event]:
    out = []
    for _ in range(rng.randint(1, 4)):
        day = _day(rng)
        if rng.random() < 0.5:
            out.append(eb.investigation_opened(f"case:{n}", f"inv:{n}", day, recorded_at=_at(rng, day),
                                               target_group=rng.choice(("children", "youth"))))
        else:
            out.append(eb.investigation_closed(f"case:{n}", f"inv:{n}", day, recorded_at=_at(rng, day)))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_random_histories_with_corrections_and_retractions(seed: int) -> None:
    rng = random.Random(seed)
    events = [b.unit_capacity_set("U1", "2021-01-01", 5)]
    for n in range(25 + 10 * seed):
        events += _placement(rng, f"pl:{n}") + _investigation(rng, n)
        events.append(eb.case_actualised(f"case:{n}", _day(rng)))
    rng.shuffle(events)
    events += [b.retracted(e, "2022-06-01") for e in rng.sample(events, len(events) // 6)]
    rng.shuffle(events)
    assert_same(events)


def test_compact_states_refuse_to_merge() -> None:
    with pytest.raises(ValueError, match="compact"):
        care_costs.merge(bundle.compact(frozenset()).care_costs, care_costs.State())
