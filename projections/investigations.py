"""Investigations: utredningar opened and closed, their durations, and overdue open investigations.

KPIs, in the municipality's own terms (BRIEF §2.1, §3.5; R21):

* **Inledda (påbörjade) utredningar** per month and target group: `investigation.opened` events by
  the business day of their `occurred_at`. **Avslutade utredningar**: the closings, counted under the
  target group and month of the closing day.
* **Utredningstid** (duration) of a closed investigation = closing day − opening day, in whole days.
  Durations are kept as histograms (days → count) per closing day and target group; histograms
  merge by addition and give the exact **medelvärde** (mean) and **median** (the mean of the two
  middle values for an even count).
* **Pågående utredningar över gränsen**: investigations open on a day (opened on or before it, not
  closed on or before it) whose age (day − opening day) exceeds a limit, by default 120 days.
* **Genomsnitt per månad** = inledda in the period ÷ the number of months it spans (4 064 / 12 = 339,
  2 572 / 8 = 322); **rullande 12-månadersmedelvärde** = the mean of the 12 monthly totals ending
  with a month.
* **Unika personer som utretts**: distinct persons with an investigation opened, open or closed
  within a period.

An investigation is keyed by `investigation_id` (its case stream owns it). Its opening is the
earliest non-retracted `investigation.opened`, its closing the latest non-retracted
`investigation.closed`; a closing without a known opening is held until the opening arrives, and a
closing dated before its opening is counted but kept out of the durations (`inconsistent`).
`apply` re-derives the investigation's contribution to the counts and histograms before and after
each event (so corrections, retractions and out-of-order arrival act exactly), mutates the state and
returns it. `merge` of states folded from disjoint streams equals the fold of all events.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from uuid import UUID

from events.case import InvestigationClosed, InvestigationOpened
from events.envelope import Event
from events.reference import EventRetracted
from events.timeutil import Month, Period
from events.vocabulary import TargetGroup
from projections import investigation_compact as compact_facts

DEFAULT_LIMIT_DAYS = 120
Key = tuple[date, TargetGroup]


@dataclass(frozen=True, slots=True)
class Opening:
    day: date
    target_group: TargetGroup
    person: str


@dataclass(slots=True)
class Facts:
    """The events of one investigation, by event id."""

    openings: dict[UUID, Opening] = field(default_factory=dict)
    closings: dict[UUID, date] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Investigation:
    investigation_id: str
    opened: Opening | None
    closed: date | None

    @property
    def duration_days(self) -> int | None:
        if self.opened is None or self.closed is None or self.closed < self.opened.day:
            return None
        return (self.closed - self.opened.day).days

    def open_on(self, day: date) -> bool:
        if self.opened is None or self.opened.day > day:
            return False
        return self.closed is None or self.closed > day


@dataclass(slots=True)
class State:
    facts: dict[str, Facts] = field(default_factory=dict)
    owner: dict[UUID, str] = field(default_factory=dict)  # event id -> investigation id
    retracted: set[UUID] = field(default_factory=set)
    opened: Counter[Key] = field(default_factory=Counter)
    closed: Counter[Key] = field(default_factory=Counter)
    durations: dict[Key, Counter[int]] = field(default_factory=dict)
    compact: compact_facts.Columns | None = None  # kompakt läge (a replay): projections.investigation_compact


def resolve(state: State, investigation_id: str) -> Investigation:
    facts = state.facts.get(investigation_id)
    if facts is None and state.compact is not None and investigation_id in state.compact.index:
        return Investigation(investigation_id, *state.compact.only(investigation_id, Opening))
    facts = facts or Facts()
    opens = [(o.day, str(eid), o) for eid, o in facts.openings.items() if eid not in state.retracted]
    closes = [(d, str(eid)) for eid, d in facts.closings.items() if eid not in state.retracted]
    if state.compact is not None:
        opens += state.compact.openings(investigation_id, Opening)
        closes += state.compact.closings(investigation_id)
    opens.sort()
    closes.sort()
    return Investigation(investigation_id, opens[0][2] if opens else None, closes[-1][0] if closes else None)


def _bump(counter: Counter[Key], key: Key, sign: int) -> None:
    counter[key] += sign
    if counter[key] == 0:
        del counter[key]


def _contribute(state: State, inv: Investigation, sign: int) -> None:
    if inv.opened is None:
        return
    group = inv.opened.target_group
    _bump(state.opened, (inv.opened.day, group), sign)
    if inv.closed is not None:
        _bump(state.closed, (inv.closed, group), sign)
        days = inv.duration_days
        if days is not None:
            hist = state.durations.setdefault((inv.closed, group), Counter())
            hist[days] += sign
            if hist[days] == 0:
                del hist[days]
                if not hist:
                    del state.durations[(inv.closed, group)]


def _touched(state: State, event: Event) -> str | None:
    data = event.data
    if isinstance(data, InvestigationOpened | InvestigationClosed):
        return data.investigation_id
    if isinstance(data, EventRetracted):
        return state.owner.get(data.retracted_event_id)
    return None


def apply(state: State, event: Event) -> State:
    """Add an opening, a closing or a retraction (mutates `state`, returns it)."""
    data = event.data
    if isinstance(data, EventRetracted):
        if data.retracted_event_id in state.retracted:
            return state
    elif not isinstance(data, InvestigationOpened | InvestigationClosed):
        return state
    inv_id = _touched(state, event)
    before = resolve(state, inv_id) if inv_id is not None else None
    if before is not None:
        _contribute(state, before, -1)
    if isinstance(data, EventRetracted):
        state.retracted.add(data.retracted_event_id)
    elif state.compact is not None and event.event_id not in state.compact.retractable:
        if isinstance(data, InvestigationOpened):
            opening = Opening(event.business_date, data.target_group, data.person)
            state.compact.open(data.investigation_id, event.event_id.int, opening)
        else:
            state.compact.close(data.investigation_id, event.event_id.int, event.business_date)
    elif isinstance(data, InvestigationOpened):
        opening = Opening(event.business_date, data.target_group, data.person)
        state.facts.setdefault(data.investigation_id, Facts()).openings[event.event_id] = opening
        state.owner[event.event_id] = data.investigation_id
    else:
        state.facts.setdefault(data.investigation_id, Facts()).closings[event.event_id] = event.business_date
        state.owner[event.event_id] = data.investigation_id
    if inv_id is not None:
        _contribute(state, resolve(state, inv_id), +1)
    return state


def permanent(state: State, inv_id: str, eid: int, opening: Opening | None, day: date) -> None:
    """Compact mode: an opening (or, without `opening`, a closing on `day`) no retraction targets."""
    assert state.compact is not None
    _contribute(state, resolve(state, inv_id), -1)
    if opening is not None:
        state.compact.open(inv_id, eid, opening)
    else:
        state.compact.close(inv_id, eid, day)
    _contribute(state, resolve(state, inv_id), +1)


def recount(state: State, opened: Counter[Key], closed: Counter[Key], durations: dict[Key, Counter[int]],
            ids: Iterable[str]) -> None:
    """Replace the counts: those given (investigations counted elsewhere) plus each of `ids` as resolved now.

    `apply` keeps the counts equal to the sum of every resolved investigation's contribution, so a
    caller that folded compact facts without counting (the columnar replay) recounts once at the end.
    """
    state.opened, state.closed, state.durations = opened, closed, durations
    for inv_id in ids:
        _contribute(state, resolve(state, inv_id), +1)


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    """A new state equal to the fold of both sides' events: counts and histograms add.

    Investigations seen by both sides (not expected with disjoint streams) are re-derived.
    """
    if a.compact is not None or b.compact is not None:
        raise ValueError("compact investigations states (a replay's own) are not partition states to merge")
    out = State(owner={**a.owner, **b.owner}, retracted=a.retracted | b.retracted,
                opened=a.opened + b.opened, closed=a.closed + b.closed)
    for side in (a, b):
        for key, hist in side.durations.items():
            out.durations.setdefault(key, Counter()).update(hist)
    crossed = ({b.owner[e] for e in a.retracted if e in b.owner}
               | {a.owner[e] for e in b.retracted if e in a.owner})
    for inv_id in (a.facts.keys() & b.facts.keys()) | crossed:
        _contribute(out, resolve(a, inv_id), -1)
        _contribute(out, resolve(b, inv_id), -1)
    for side in (a, b):
        for inv_id, facts in side.facts.items():
            mine = out.facts.setdefault(inv_id, Facts())
            mine.openings.update(facts.openings)
            mine.closings.update(facts.closings)
    for inv_id in (a.facts.keys() & b.facts.keys()) | crossed:
        _contribute(out, resolve(out, inv_id), +1)
    return out


def _in(period: Period, key: Key, target_group: TargetGroup | None) -> bool:
    return period.contains(key[0]) and (target_group is None or key[1] == target_group)


def opened_count(state: State, period: Period, target_group: TargetGroup | None = None) -> int:
    return sum(n for k, n in state.opened.items() if _in(period, k, target_group))


def closed_count(state: State, period: Period, target_group: TargetGroup | None = None) -> int:
    return sum(n for k, n in state.closed.items() if _in(period, k, target_group))


def opened_per_month(
    state: State, period: Period, target_group: TargetGroup | None = None
) -> dict[Month, int]:
    return {m: opened_count(state, period.month_part(m), target_group) for m in period.months()}


def closed_per_month(
    state: State, period: Period, target_group: TargetGroup | None = None
) -> dict[Month, int]:
    return {m: closed_count(state, period.month_part(m), target_group) for m in period.months()}


def average_per_month(state: State, period: Period, target_group: TargetGroup | None = None) -> Fraction:
    """Genomsnitt per månad = inledda in the period ÷ the months it spans."""
    return Fraction(opened_count(state, period, target_group), len(period.months()))


def rolling_mean(
    state: State, through: Month, window: int = 12, since: Month | None = None
) -> Fraction | None:
    """Mean of the monthly openings of the `window` months ending with `through`.

    None when the window reaches before `since` (default: the first month with an opening).
    """
    start = through
    for _ in range(window - 1):
        start = start.prev()
    first = since
    if first is None and state.opened:
        first = Month.of(min(day for day, _ in state.opened))
    if first is None or start < first:
        return None
    return Fraction(opened_count(state, Period(start.first, through.last)), window)


def duration_histogram(state: State, period: Period, target_group: TargetGroup | None = None) -> Counter[int]:
    """Durations (whole days → count) of the investigations closed in the period."""
    out: Counter[int] = Counter()
    for key, hist in state.durations.items():
        if _in(period, key, target_group):
            out.update(hist)
    return out


def mean_days(hist: Counter[int]) -> Fraction | None:
    n = sum(hist.values())
    return None if n == 0 else Fraction(sum(d * c for d, c in hist.items()), n)


def median_days(hist: Counter[int]) -> Fraction | None:
    """Exact median of a histogram: the middle value, or the mean of the two middle values."""
    n = sum(hist.values())
    if n == 0:
        return None
    lo_rank, hi_rank = (n - 1) // 2, n // 2
    seen, lo = 0, None
    for days in sorted(hist):
        seen += hist[days]
        if lo is None and seen > lo_rank:
            lo = days
        if seen > hi_rank:
            return Fraction(lo + days, 2) if lo is not None else Fraction(days)
    raise AssertionError("unreachable: ranks lie inside the histogram")


def investigations(state: State) -> list[Investigation]:
    ids = state.facts.keys() | (set(state.compact.index) if state.compact is not None else set())
    return [resolve(state, inv_id) for inv_id in sorted(ids)]


def _candidates(state: State, test: compact_facts.Test) -> list[Investigation]:
    """The investigations a search may find, by id: every one, or in compact mode those with full facts
    and the compact rows whose kept days pass `test` (which keeps at least every row the search finds)."""
    if state.compact is None:
        return investigations(state)
    ids = state.facts.keys() | set(state.compact.ids_where(test))
    return [resolve(state, inv_id) for inv_id in sorted(ids)]


def overdue(state: State, day: date, limit_days: int = DEFAULT_LIMIT_DAYS) -> list[Investigation]:
    """Investigations open on `day` whose age (day − opening day) exceeds `limit_days`."""
    d = day.toordinal()
    found = _candidates(state, lambda o, c: (o != 0) & (o <= d) & ((c == 0) | (c > d)) & (d - o > limit_days))
    return [i for i in found
            if i.opened is not None and i.open_on(day) and (day - i.opened.day).days > limit_days]


def unique_persons(state: State, period: Period) -> frozenset[str]:
    """Unika personer som utretts: persons with an investigation opened, open or closed in the period."""
    out: set[str] = set()
    for i in investigations(state):
        if i.opened is None or i.opened.day > period.end:
            continue
        if i.closed is None or i.closed >= period.start:
            out.add(i.opened.person)
    return frozenset(out)


def inconsistent(state: State) -> list[Investigation]:
    """Closings without a known opening, or dated before it: counted nowhere in the durations."""
    found = _candidates(state, lambda o, c: (c != 0) & ((o == 0) | (c < o)))
    return [i for i in found if i.closed is not None and (i.opened is None or i.closed < i.opened.day)]
