"""Intake: aktualiseringar per month, by channel, target group and sex.

KPIs, in the municipality's own terms (BRIEF §2.1, §3.5):

* **Antal aktualiseringar** (aktualiserade ärenden): the number of `case.actualised` events whose
  business day (Stockholm date of `occurred_at`) falls in the period. Cases are counted, not persons.
* **per kanal**: anmälan (`report`), ansökan (`application`), begäran (`request`); **per målgrupp**:
  Barn, Unga, Vuxna.
* **Andel kvinnor/män** (share by sex, in percent) = aktualiseringar of that sex ÷ all aktualiseringar.
* **Andel ansökningar** = ansökningar ÷ (anmälningar + ansökningar), in percent.
* **Rullande 12-månadersmedelvärde** (rolling 12-month mean) = the mean of the monthly totals of the
  12 months ending with a month; months without aktualiseringar count as 0.

A **makulering** (`event.retracted`, on the case's stream) withdraws a counted aktualisering. The
state keeps each aktualisering's contribution by event id, so a retraction subtracts exactly what the
event added, and a retraction folded before its event keeps that event from ever counting.

State: counts per (day, channel, target group, sex), plus the contributions and retracted ids.
`apply` mutates the state it is given and returns it. `merge(a, b)` of states folded from disjoint
sets of streams equals the fold of all events: counts add, contributions and retractions are unions.
"As known at T" is the fold of the events recorded at or before T (`projections.bitemporal`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from uuid import UUID

from events.case import CaseActualised
from events.envelope import Event
from events.reference import EventRetracted
from events.timeutil import Month, Period
from events.vocabulary import Channel, Sex, TargetGroup

Cell = tuple[Channel, TargetGroup, Sex]


@dataclass(slots=True)
class State:
    """Live counts per business day and cell; each aktualisering's cell by event id; retracted ids."""

    counts: dict[date, Counter[Cell]] = field(default_factory=dict)
    contributions: dict[UUID, tuple[date, Cell]] = field(default_factory=dict)
    retracted: set[UUID] = field(default_factory=set)
    # kompakt läge (a replay that read every retraction target first): the contributions of other events
    # are not kept (they can never be withdrawn), and each event is folded once (a store holds each id once)
    retractable: frozenset[UUID] | None = None


def _add(state: State, day: date, cell: Cell, sign: int) -> None:
    cells = state.counts.setdefault(day, Counter())
    cells[cell] += sign
    if cells[cell] == 0:
        del cells[cell]
        if not cells:
            del state.counts[day]


def permanent(state: State, day: date, cell: Cell, count: int = 1) -> None:
    """Compact mode: count `count` aktualiseringar that no retraction targets (contributions not kept)."""
    _add(state, day, cell, count)


def apply(state: State, event: Event) -> State:
    """Count an aktualisering or withdraw a retracted one (mutates `state`, returns it)."""
    data = event.data
    if isinstance(data, CaseActualised):
        entry = (event.business_date, (data.channel, data.target_group, data.sex))
        if state.retractable is not None and event.event_id not in state.retractable:
            permanent(state, *entry)
            return state
        if event.event_id in state.contributions:
            return state  # the same event twice counts once
        state.contributions[event.event_id] = entry
        if event.event_id not in state.retracted:
            _add(state, entry[0], entry[1], +1)
    elif isinstance(data, EventRetracted):
        target = data.retracted_event_id
        if target not in state.retracted:
            state.retracted.add(target)
            if target in state.contributions:
                _add(state, *state.contributions[target], -1)
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    """Fold events into a new state (or into the given one, which is mutated)."""
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def _counted(state: State, event_id: UUID) -> bool:
    return event_id in state.contributions and event_id not in state.retracted


def merge(a: State, b: State) -> State:
    """A new state equal to the fold of both states' events (neither input is changed).

    Counts add; for the rare event id seen by both sides, or retracted on the other side, the sum is
    corrected so that each aktualisering counts once unless retracted.
    """
    out = State(contributions={**a.contributions, **b.contributions}, retracted=a.retracted | b.retracted)
    for side in (a, b):
        for day, cells in side.counts.items():
            for cell, n in cells.items():
                _add(out, day, cell, n)
    shared = (a.contributions.keys() & (b.contributions.keys() | b.retracted)) | (
        b.contributions.keys() & a.retracted)
    for eid in shared:
        have = int(_counted(a, eid)) + int(_counted(b, eid))
        want = int(_counted(out, eid))
        if have != want:
            _add(out, *out.contributions[eid], want - have)
    return out


@dataclass(frozen=True, slots=True)
class Intake:
    """Aktualiseringar of a period by cell (channel, target group, sex)."""

    period: Period
    cells: Counter[Cell]

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    def by_channel(self, channel: Channel) -> int:
        return sum(n for (c, _, _), n in self.cells.items() if c == channel)

    def by_target_group(self, target_group: TargetGroup) -> int:
        return sum(n for (_, g, _), n in self.cells.items() if g == target_group)

    def by_sex(self, sex: Sex) -> int:
        return sum(n for (_, _, s), n in self.cells.items() if s == sex)

    def count(self, channel: Channel, target_group: TargetGroup) -> int:
        return sum(n for (c, g, _), n in self.cells.items() if c == channel and g == target_group)

    def sex_share_pct(self, sex: Sex) -> Fraction | None:
        """Andel (percent) of the period's aktualiseringar with this sex; None without any."""
        return None if self.total == 0 else Fraction(100 * self.by_sex(sex), self.total)

    @property
    def application_share_pct(self) -> Fraction | None:
        """Andel ansökningar = ansökningar ÷ (anmälningar + ansökningar), percent."""
        base = self.by_channel("application") + self.by_channel("report")
        return None if base == 0 else Fraction(100 * self.by_channel("application"), base)


def figures(state: State, period: Period) -> Intake:
    """Aktualiseringar whose business day lies in the (inclusive) period."""
    total: Counter[Cell] = Counter()
    day = period.start
    while day <= period.end:
        total.update(state.counts.get(day, {}))
        day += timedelta(days=1)
    return Intake(period, total)


def monthly(state: State, period: Period) -> dict[Month, Intake]:
    """Per month of the period (part months at the period's ends cover only their part)."""
    return {m: figures(state, period.month_part(m)) for m in period.months()}


def first_month(state: State) -> Month | None:
    """The earliest month with a counted aktualisering."""
    return Month.of(min(state.counts)) if state.counts else None


def rolling_mean(
    state: State, through: Month, window: int = 12, since: Month | None = None
) -> Fraction | None:
    """Rullande medelvärde: mean of the monthly totals of the `window` months ending with `through`.

    `since` is the first month the history covers (default: the first month with data); a window
    reaching before it has no value (None), so a short history never shows a falsely low mean.
    """
    start = through
    for _ in range(window - 1):
        start = start.prev()
    first = since if since is not None else first_month(state)
    if first is None or start < first:
        return None
    total = figures(state, Period(start.first, through.last)).total
    return Fraction(total, window)
