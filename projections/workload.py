"""Workload measurement (arbetsmängdsmätning): workload ÷ available staff capacity, in percent.

KPIs, in the municipality's own terms (BRIEF §2.4, §3.6, §7; R24):

* **Arbetsmängd** of one measurement (`workload.measured`) = the workload from current cases ÷ the
  staff resource available, in percent, for an area (myndighetsutövning, öppenvård, ...) and a
  measurement week. The norm is 100 %; 80–120 % is the expected band.
* **Indikator arbetsmängd** for a year = the **unweighted mean of the year's valid measurements**
  (every area and week counts once): 2020 = mean(116, 93, 108, 96, 105, 88, 103) = 101 (R24).
  A valid measurement is one not retracted; a re-measurement of the same area and week (by business
  time, then record time) replaces the earlier one. A skipped measurement is simply absent.
* **Utanför intervallet**: measurements below 80 % or above 120 %.

The year of a measurement is the year of its business day. State: measurements by event id and the
retracted ids; `apply` mutates and returns the state; `merge` is the union (disjoint streams).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Final
from uuid import UUID

from events.envelope import Event
from events.reference import EventRetracted, WorkloadMeasured
from events.timeutil import as_aware

NORM: Final = 100
BAND: Final = (80, 120)


@dataclass(frozen=True, slots=True)
class Measurement:
    area: str
    year: int
    week: int
    value_percent: Fraction
    order: tuple[datetime, datetime, str]


@dataclass(slots=True)
class State:
    facts: dict[UUID, Measurement] = field(default_factory=dict)
    retracted: set[UUID] = field(default_factory=set)


def apply(state: State, event: Event) -> State:
    """Add a measurement or a retraction (mutates `state`, returns it)."""
    data = event.data
    if isinstance(data, WorkloadMeasured):
        occurred = as_aware(event.occurred_at)
        recorded = event.recorded_at if event.recorded_at is not None else occurred
        order = (occurred, recorded, str(event.event_id))
        state.facts[event.event_id] = Measurement(data.area, event.business_date.year, data.week,
                                                  Fraction(data.value_percent), order)
    elif isinstance(data, EventRetracted):
        state.retracted.add(data.retracted_event_id)
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    return State({**a.facts, **b.facts}, a.retracted | b.retracted)


def measurements(state: State, year: int, area: str | None = None) -> list[Measurement]:
    """The year's valid measurements (latest per area and week), ordered by area and week."""
    latest: dict[tuple[str, int], Measurement] = {}
    for eid, m in state.facts.items():
        if eid in state.retracted or m.year != year or (area is not None and m.area != area):
            continue
        key = (m.area, m.week)
        if key not in latest or m.order > latest[key].order:
            latest[key] = m
    return [latest[k] for k in sorted(latest)]


def indicator(state: State, year: int, area: str | None = None) -> Fraction | None:
    """Indikator arbetsmängd: the unweighted mean of the valid measurements (None without any)."""
    found = measurements(state, year, area)
    if not found:
        return None
    return sum((m.value_percent for m in found), Fraction(0)) / len(found)


def outside_band(state: State, year: int, band: tuple[int, int] = BAND) -> list[Measurement]:
    low, high = band
    return [m for m in measurements(state, year) if not low <= m.value_percent <= high]
