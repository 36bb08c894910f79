"""Ensamkommande barn och unga (EKB): month-end stock by status and sex, and its flows.

KPIs, in the municipality's own terms (BRIEF §2.2, §3.5; R20):

* **Antal ärenden vid månadens slut** (month-end stock): persons whose latest `ekb.status_changed`
  on or before the month's last day is **asylsökande** (`asylum_seeker`) or **kommunplacerad**
  (`municipality_placed`), by status and by sex (därav flickor / pojkar); `ended` (avslutad) leaves
  the stock. Asylsökande + kommunplacerade = totalt.
* **Flöden** over a period: **nya** (inflow: a person entering the stock, from no status or ended),
  **avslutade** (outflow: a person in the stock whose status becomes ended) and **statusbyten**
  (asylsökande ↔ kommunplacerad, inside the stock, neither in- nor outflow).
* **Flödesavstämning** (flow reconciliation): opening stock + inflow − outflow must equal the closing
  stock. Folded from one state the identity always holds; it fails when a published opening stock
  was restated afterwards (a back-registered status) or a status change was not counted as a flow,
  and the check flags the difference (R20: 68 + 7 − 25 = 50 against 51 reported).

The order of a person's statuses is business day, then record time, then event id. State: each
person's status facts by event id (one stream per person owns them) and the retracted ids. `apply`
mutates the state and returns it; `merge` of disjoint streams' states is the union of their facts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Final, Literal
from uuid import UUID

from events.envelope import Event
from events.reference import EkbStatusChanged, EventRetracted
from events.timeutil import Month, Period, as_aware
from events.vocabulary import Sex

Status = Literal["asylum_seeker", "municipality_placed", "ended"]
IN_STOCK: Final[tuple[Status, ...]] = ("asylum_seeker", "municipality_placed")
STATUS_SV: Final[dict[Status, str]] = {
    "asylum_seeker": "Asylsökande", "municipality_placed": "Kommunplacerade", "ended": "Avslutade",
}


@dataclass(frozen=True, slots=True, order=True)
class StatusFact:
    day: date
    recorded: datetime
    event_id: str
    status: Status = field(compare=False)
    sex: Sex = field(compare=False)

    @property
    def in_stock(self) -> bool:
        return self.status != "ended"


@dataclass(slots=True)
class State:
    facts: dict[str, dict[UUID, StatusFact]] = field(default_factory=dict)  # person -> event id -> fact
    retracted: set[UUID] = field(default_factory=set)


def apply(state: State, event: Event) -> State:
    """Add a status change or a retraction (mutates `state`, returns it)."""
    data = event.data
    if isinstance(data, EkbStatusChanged):
        recorded = event.recorded_at if event.recorded_at is not None else as_aware(event.occurred_at)
        fact = StatusFact(event.business_date, recorded, str(event.event_id), data.status, data.sex)
        state.facts.setdefault(data.person, {})[event.event_id] = fact
    elif isinstance(data, EventRetracted):
        state.retracted.add(data.retracted_event_id)
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    out = State({p: dict(f) for p, f in a.facts.items()}, a.retracted | b.retracted)
    for person, facts in b.facts.items():
        out.facts.setdefault(person, {}).update(facts)
    return out


def history(state: State, person: str) -> list[StatusFact]:
    """A person's statuses in order, retracted ones left out."""
    return sorted(f for e, f in state.facts.get(person, {}).items() if e not in state.retracted)


def _status_on(facts: list[StatusFact], day: date) -> StatusFact | None:
    latest = None
    for f in facts:
        if f.day > day:
            break
        latest = f
    return latest


def stock(state: State, day: date) -> Counter[tuple[Status, Sex]]:
    """Persons in the stock at the end of `day`, by (status, sex)."""
    out: Counter[tuple[Status, Sex]] = Counter()
    for person in state.facts:
        f = _status_on(history(state, person), day)
        if f is not None and f.in_stock:
            out[(f.status, f.sex)] += 1
    return out


def month_end_stock(state: State, month: Month) -> Counter[tuple[Status, Sex]]:
    return stock(state, month.last)


@dataclass(frozen=True, slots=True)
class FlowCheck:
    """Flödesavstämning: opening + inflow − outflow against the closing stock."""

    opening: int
    inflow: int
    outflow: int
    closing: int

    @property
    def expected_closing(self) -> int:
        return self.opening + self.inflow - self.outflow

    @property
    def difference(self) -> int:
        """Closing − (opening + inflow − outflow); 0 when the flows reconcile."""
        return self.closing - self.expected_closing

    @property
    def flagged(self) -> bool:
        return self.difference != 0


def reconcile(opening: int, inflow: int, outflow: int, closing: int) -> FlowCheck:
    return FlowCheck(opening, inflow, outflow, closing)


@dataclass(frozen=True, slots=True)
class Flows:
    period: Period
    opening: int
    inflow: int
    outflow: int
    transfers: int
    closing: int


def flows(state: State, period: Period) -> Flows:
    """Stock before the period, nya, avslutade and statusbyten in it, and the closing stock."""
    before = period.start - timedelta(days=1)
    inflow = outflow = transfers = 0
    for person in state.facts:
        facts = history(state, person)
        current = _status_on(facts, before)
        for f in facts:
            if not period.contains(f.day):
                continue
            was_in = current is not None and current.in_stock
            if f.in_stock and not was_in:
                inflow += 1
            elif was_in and not f.in_stock:
                outflow += 1
            elif was_in and current is not None and f.status != current.status:
                transfers += 1
            current = f
    return Flows(period, sum(stock(state, before).values()), inflow, outflow, transfers,
                 sum(stock(state, period.end).values()))


def flow_check(state: State, period: Period, published_opening: int | None = None) -> FlowCheck:
    """Reconcile the period's flows; against a published opening stock when one is given."""
    f = flows(state, period)
    opening = f.opening if published_opening is None else published_opening
    return reconcile(opening, f.inflow, f.outflow, f.closing)
