"""A small municipality with known KPIs on 2021-03-15, shared by the exporter's unit and integration tests.

Hand-computed figures (reference day 2021-03-15, year to date 2021-01-01..2021-03-15 = 74 days):

* unit U-LONG (long_stay, 10 places): 8 open stays from 2021-01-01 -> 80 % every month, Ack 80 %.
* unit U-SHORT (short_stay, 4 places): 3 open stays from 2021-01-01 -> 75 %.
* institution / children: 6 persons from 2021-01-01 at 3 000 SEK/day -> 6 persons per day,
  3 000 SEK per care day; budget 5 000 000 SEK with 5 persons per day -> forecast 6 x 3 000 x 365 =
  6 570 000, deviation -1 570 000.
* family_home_external / youth: 2 persons -> a small cell, not exported.
* intake March 1–15: 7 reports, 2 applications (small cell), 0 requests; 9 in all. Rolling mean
  Mar 2020–Feb 2021: (1 + 3) / 12.
* investigations open on 2021-03-15 past 120 days: 6 children (since 2020-10-01) + 2 youth
  (since 2020-11-01, a small cell) = 8; one opened 2021-02-01 is not overdue.
"""

from __future__ import annotations

from datetime import date

from events.envelope import Event
from projections import bundle
from tests.unit import builders as b
from tests.unit import event_builders_economy as econ

AS_OF = date(2021, 3, 15)
START = date(2021, 1, 1)


def scenario_events() -> list[Event]:
    out: list[Event] = [
        b.unit_capacity_set("U-LONG", START, 10, name="Hemmet", kind="long_stay"),
        b.unit_capacity_set("U-SHORT", START, 4, name="Jouren", kind="short_stay"),
    ]
    out += [b.placement_started(f"PL-L{i}", START, unit_id="U-LONG", regime="own") for i in range(8)]
    out += [b.placement_started(f"PL-S{i}", START, unit_id="U-SHORT", regime="own") for i in range(3)]
    out += [b.placement_started(f"PL-I{i}", START, price=3000) for i in range(6)]
    out += [b.placement_started(f"PL-F{i}", START, category="family_home_external", target_group="youth",
                                price=1500) for i in range(2)]
    out.append(econ.budget_set(2021, 5_000_000, category="institution", target_group="children",
                               persons=5, price=3000))
    out.append(econ.case_actualised("C-2020", date(2020, 3, 10)))
    out += [econ.case_actualised(f"C-J{i}", date(2021, 1, 5 + i)) for i in range(3)]
    out += [econ.case_actualised(f"C-R{i}", date(2021, 3, 1 + i), channel="report") for i in range(7)]
    out += [econ.case_actualised(f"C-A{i}", date(2021, 3, 2 + i), channel="application") for i in range(2)]
    out += [econ.investigation_opened(f"C-IC{i}", f"U-IC{i}", date(2020, 10, 1)) for i in range(6)]
    out += [econ.investigation_opened(f"C-IY{i}", f"U-IY{i}", date(2020, 11, 1), target_group="youth")
            for i in range(2)]
    out.append(econ.investigation_opened("C-NEW", "U-NEW", date(2021, 2, 1)))
    return out


def ids_in(events: list[Event]) -> set[str]:
    """Every case, person, placement and investigation id of the events (none may reach a metric)."""
    found: set[str] = set()
    for e in events:
        data = e.data.model_dump()
        found.add(e.stream_id)
        for key in ("person", "placement_id", "investigation_id"):
            if isinstance(data.get(key), str):
                found.add(data[key])
    return {i for i in found if not i.startswith(("unit:", "budget:"))}


def test_scenario_folds_to_the_documented_shape() -> None:
    state = bundle.fold(scenario_events())
    assert set(state.occupancy.units) == {"U-LONG", "U-SHORT"}
    assert len(list(state.care_costs.resolved())) == 19
