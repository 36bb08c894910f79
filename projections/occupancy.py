"""Occupancy of the municipality's own units (beläggningsgrad / nyttjandegrad, egen regi).

KPIs, in the reports' own terms (CONVENTIONS §1; BRIEF §2.3, §3.1):

* **Platser** (places): a unit's place count, set by `unit.capacity_set` from its business day on.
  Available place-days of a month = the sum over its days of the places that day.
* **Belagda platsdygn** (occupied place-days): nights of own-unit placements in the unit
  (start <= d < departure day), the same day coverage as vårddygn.
* **Beläggningsgrad per månad** (monthly occupancy, %) = occupied place-days ÷ available
  place-days × 100. Above 100 occurs ("överinskrivning"). For outpatient groups the reports'
  "individer" measure is available too: distinct individuals enrolled in the month ÷ average places.
* **Ack** (accumulated): as the reports, the *unweighted* mean of the monthly percentages; the
  day-weighted variant (Σ occupied ÷ Σ available) is read off beside it.
* **Totalt (ovägt medelvärde)**: group totals (per kind and overall) are the unweighted mean over
  units; a places-weighted mean (elderly care's rule) is chosen with `Weighting.across_units`.
  The figure types and totals live in `projections.occupancy_totals` and are re-exported here.
* **Belagda platser per dygn** (occupied places per day) = occupied place-days ÷ days.

A month that is not reported yet (participant data lag one month, the reports' "-") is None and left
out of every mean: pass `data_through`. State: capacity facts by unit and event id, plus retracted
event ids; `apply` mutates the state it is given and returns it; `merge` unions disjoint partitions.
Placements come from the `care_costs` state (placements with a `unit_id`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from uuid import UUID

from events.envelope import Event
from events.reference import EventRetracted, UnitCapacitySet
from events.timeutil import STOCKHOLM, Month, Period, overlap_days
from events.vocabulary import UnitKind
from projections import care_costs
from projections.occupancy_totals import (
    PLACES_WEIGHTED,
    POOLED,
    REPORTED,
    GroupOccupancy,
    Measure,
    MonthOccupancy,
    UnitOccupancy,
    Weighting,
    by_kind,
    group_occupancy,
)
from projections.placement_batch import Plain
from projections.placement_facts import Placement

__all__ = [
    "PLACES_WEIGHTED", "POOLED", "REPORTED", "Capacity", "GroupOccupancy", "Measure", "MonthOccupancy",
    "State", "UnitOccupancy", "Weighting", "apply", "available_place_days", "by_kind", "fold",
    "group_occupancy", "merge", "monthly_occupancy", "places_on", "unknown_units",
]

_NEVER = datetime.min.replace(tzinfo=STOCKHOLM)


@dataclass(frozen=True, slots=True)
class Capacity:
    """One unit.capacity_set fact."""

    event_id: UUID
    day: date
    places: int
    name: str
    kind: UnitKind
    recorded_at: datetime | None
    position: int | None
    arrival: int = field(compare=False)

    def order(self) -> tuple[date, datetime, int, int]:
        return (self.day, self.recorded_at or _NEVER, self.position or 0, self.arrival)


@dataclass(slots=True)
class State:
    units: dict[str, dict[UUID, Capacity]] = field(default_factory=dict)
    retracted: set[UUID] = field(default_factory=set)
    arrivals: int = field(default=0, compare=False)

    def timeline(self, unit_id: str) -> list[Capacity]:
        """Live capacity facts by business day; of two on one day the latest registered wins."""
        live = sorted((c for c in self.units.get(unit_id, {}).values() if c.event_id not in self.retracted),
                      key=Capacity.order)
        by_day = {c.day: c for c in live}
        return [by_day[d] for d in sorted(by_day)]


def apply(state: State, event: Event) -> State:
    """Add a capacity fact or a retraction to `state` (mutated in place and returned)."""
    d = event.data
    if isinstance(d, EventRetracted):
        state.retracted.add(d.retracted_event_id)
    elif isinstance(d, UnitCapacitySet):
        cap = Capacity(event.event_id, event.business_date, d.places, d.name, d.kind, event.recorded_at,
                       event.position, state.arrivals)
        state.units.setdefault(d.unit_id, {})[event.event_id] = cap
        state.arrivals += 1
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    """A new state with both partial states' facts (inputs unchanged)."""
    out = State({u: dict(f) for u, f in a.units.items()}, a.retracted | b.retracted, a.arrivals + b.arrivals)
    for unit, facts in b.units.items():
        mine = out.units.setdefault(unit, {})
        for eid, cap in facts.items():
            mine.setdefault(eid, cap)
    return out


def available_place_days(timeline: list[Capacity], part: Period) -> int:
    total = 0
    for i, cap in enumerate(timeline):
        stop = timeline[i + 1].day if i + 1 < len(timeline) else None
        total += cap.places * overlap_days(cap.day, stop, part)
    return total


def places_on(timeline: list[Capacity], day: date) -> int:
    current = 0
    for cap in timeline:
        if cap.day > day:
            break
        current = cap.places
    return current


def monthly_occupancy(
    units: State, placements: care_costs.State, period: Period, *,
    measures: Mapping[UnitKind, Measure] | None = None, data_through: date | None = None,
) -> dict[str, UnitOccupancy]:
    """Occupancy per unit and month of the period (units with places in the period, by unit id)."""
    plain, others = placements.split(period)
    stays: dict[str, list[Placement]] = {}
    for p in _own_stays(others, period):
        assert p.unit_id is not None
        stays.setdefault(p.unit_id, []).append(p)
    codes = _unit_codes(plain)
    out: dict[str, UnitOccupancy] = {}
    for unit_id in sorted(units.units):
        timeline = units.timeline(unit_id)
        if not timeline or available_place_days(timeline, period) == 0:
            continue
        latest = timeline[-1]
        measure = (measures or {}).get(latest.kind, "place_days")
        mine = stays.get(unit_id, [])
        rows = None if plain is None or unit_id not in codes else plain.of_codes(codes[unit_id])
        months = tuple(_month(timeline, _occupied(mine, rows, period.month_part(m)), period.month_part(m), m,
                              measure, data_through) for m in period.months())
        places = places_on(timeline, period.end)
        out[unit_id] = UnitOccupancy(unit_id, latest.name, latest.kind, places, months)
    return out


def _own_stays(placements: list[Placement], period: Period) -> Iterator[Placement]:
    """The placements in an own unit with a covered day in the period."""
    return (p for p in placements if care_costs.in_scope(p, "own_units") and p.covered(period) is not None)


def _unit_codes(plain: Plain | None) -> dict[str, list[int]]:
    """The attribute codes of the plain rows in each own unit."""
    out: dict[str, list[int]] = {}
    if plain is not None:
        for code in plain.codes():
            unit_id = plain.attrs[code][3]
            if unit_id is not None:
                out.setdefault(unit_id, []).append(code)
    return out


def _occupied(stays: list[Placement], rows: Plain | None, part: Period) -> tuple[int, int]:
    """(occupied place-days, distinct individuals) in `part`: each stay's covered span and person."""
    occupied, persons = 0, set()
    for p in stays:  # one covered span per stay: its care days and whether its person counts
        span = p.covered(part)
        if span is not None:
            occupied += (span[1] - span[0]).days
            persons.add(p.person)
    if rows is None:
        return occupied, len(persons)
    inside = rows.within(part)
    return occupied + inside.care_days(), inside.distinct_persons(persons)


def _month(
    timeline: list[Capacity], counted: tuple[int, int], part: Period, month: Month, measure: Measure,
    data_through: date | None,
) -> MonthOccupancy:
    occupied, individuals = counted
    available = available_place_days(timeline, part)
    percent: Fraction | None = None
    reported = data_through is None or part.end <= data_through
    if available and reported:
        enrolled = individuals * part.days if measure == "individuals" else occupied
        percent = Fraction(enrolled, available) * 100
    return MonthOccupancy(month, part.days, occupied, available, individuals, percent)


def unknown_units(units: State, placements: care_costs.State, period: Period) -> list[str]:
    """Units with placements in the period but no places set: their stays count in no occupancy."""
    known = {u for u in units.units if units.timeline(u)}
    plain, others = placements.split(period)
    found = {p.unit_id for p in _own_stays(others, period)} | _unit_codes(plain).keys()
    return sorted(u for u in found if u is not None and u not in known)
