"""A small, hand-countable municipality for the UI and query tests (period 2021-01-01..2021-03-31, 90 days).

Externa köp (no unit): 6 children in institution at 3 000 kr/day from 1 Jan (open), 2 youth in external
family homes at 1 000 kr/day from 1 Jan (open) → Barn 6.0 persons/day, Unga 2.0 ("<5": 2 persons),
Totalt 8.0; ovägt 2 000 kr, vägt 2 500 kr. Budget institution/children 2021: 5 persons × 2 800 kr,
20 000 000 kr. Own units: U1 "Hemmet" (long stay, 10 places) with 8 residents → 80 %; U2 "Lilla" (short
stay, 4 places) with 2 residents → 50 % shown as "<5". Intake: January 6 anmälan + 2 ansökan, February 3
anmälan ("<5"), March 7 anmälan + 1 begäran. Investigations: 6 opened 4 Jan, 5 closed 5 Mar (60 days).

Registered late (after 5 April 2021): a seventh institution child from 2 Mar (recorded 15 Apr), a
correction moving one youth's start to 1 Feb (recorded 20 Apr) and a retraction of a January anmälan
(recorded 10 Apr). As known on 5 April the figures above hold; as known now Barn has 570 care days
(6.3 persons/day) and Unga 2 × 90 − 31 = 149.
"""

from __future__ import annotations

from datetime import date

from events.envelope import Event
from tests.unit.builders import placement_corrected, placement_started, retracted, unit_capacity_set
from tests.unit.event_builders_economy import (
    budget_set,
    case_actualised,
    investigation_closed,
    investigation_opened,
)

START = date(2021, 1, 1)
END = date(2021, 3, 31)
REPORTED_ON = date(2021, 4, 5)


def _placements() -> list[Event]:
    out = [placement_started(f"pl-inst-{i}", START, category="institution", target_group="children",
                             price=3000, sex="female" if i % 2 else "male") for i in range(6)]
    out += [placement_started(f"pl-fhe-{i}", START, category="family_home_external", target_group="youth",
                              price=1000) for i in range(2)]
    out += [placement_started(f"pl-u1-{i}", START, category="institution", target_group="youth",
                              regime="own", unit_id="U1", price=0) for i in range(8)]
    out += [placement_started(f"pl-u2-{i}", START, category="institution", target_group="youth",
                              regime="own", unit_id="U2", price=0) for i in range(2)]
    return out


def _cases() -> list[Event]:
    jan = [case_actualised(f"c-jan-{i}", date(2021, 1, 10 + i), channel="report") for i in range(6)]
    jan += [case_actualised(f"c-jana-{i}", date(2021, 1, 20 + i), channel="application") for i in range(2)]
    feb = [case_actualised(f"c-feb-{i}", date(2021, 2, 10 + i), channel="report") for i in range(3)]
    mar = [case_actualised(f"c-mar-{i}", date(2021, 3, 10 + i), channel="report") for i in range(7)]
    mar += [case_actualised("c-marr-0", date(2021, 3, 25), channel="request")]
    inv = [investigation_opened(f"c-jan-{i}", f"inv-{i}", date(2021, 1, 4)) for i in range(6)]
    inv += [investigation_closed(f"c-jan-{i}", f"inv-{i}", date(2021, 3, 5)) for i in range(5)]
    return jan + feb + mar + inv


def seed_events() -> list[Event]:
    """Everything known by 5 April 2021."""
    units = [unit_capacity_set("U1", "2020-12-01", 10, name="Hemmet", kind="long_stay"),
             unit_capacity_set("U2", "2020-12-01", 4, name="Lilla", kind="short_stay")]
    budget = [budget_set(2021, 20_000_000, category="institution", target_group="children", persons=5,
                         price=2800)]
    return units + budget + _placements() + _cases()


def late_events(known: list[Event]) -> list[Event]:
    """Registered after REPORTED_ON: a late placement, a correction and a retraction."""
    anmalan = next(e for e in known if e.stream_id == "c-jan-0" and e.type == "case.actualised")
    return [
        placement_started("pl-inst-late", "2021-03-02", category="institution", target_group="children",
                          price=3000, recorded_at="2021-04-15T10:00:00+02:00"),
        placement_corrected("pl-fhe-0", "2021-01-01", start="2021-02-01",
                            recorded_at="2021-04-20T10:00:00+02:00"),
        retracted(anmalan, "2021-01-10", recorded_at="2021-04-10T10:00:00+02:00"),
    ]


def all_events() -> list[Event]:
    known = seed_events()
    return known + late_events(known)
