"""Care days, cost and cost per care day of placements (vårddygn, kostnad, dygnskostnad).

KPIs, in the reports' own terms (CONVENTIONS §1–2; BRIEF §2.3, §3.2, §3.5):

* **Vårddygn** (care days, "betalda dygn", "resurs-/insatsdygn"): one person in one placement for
  one night; a placement from S to departure day E gives the days S <= d < E, an open placement
  every day of the period from S on.
* **Personer snitt per dygn** (average persons per day) = vårddygn ÷ days in the period.
* **Kostnad** (cost, SEK, exact): day price × care days; a monthly price (internal family homes,
  contracted jourhem) × covered days ÷ days in that month, so a full month costs the monthly price.
* **Kostnad snitt per dygn** (cost per care day) per line = the period's cost ÷ its care days.
* **Genomsnittlig kostnad per vårddygn (ovägt medelvärde)**, the headline: the unweighted mean of
  the lines' cost per care day over the *day-priced* rows (monthly-priced and cost-only lines left
  out), as the reports compute it; the weighted total cost ÷ total care days is reported beside it.
* **Andel vårddygn i egen regi** (own-regime share, "andel insatsdygn i egen regi") = care days in
  own regime ÷ all care days, per intervention type (or any other breakdown).

Scope: the externa-köp table (`line_figures`) covers placements that are not in an own unit
(`unit_id` absent): purchased placements plus internal family homes and contracted jourhem.
Cost-only lines (kontaktperson, övrig öppenvård) carry cost and persons but no care days, so they
never enter a persons-per-day sum (the reports' bracketed rows).

State: the facts of each placement keyed by placement_id and event id, and the set of retracted
event ids (`projections.placement_facts`). `apply` updates the state it is given in place and
returns it (a replay of 10M events cannot copy per event). Partial states folded from disjoint
streams merge exactly (`merge`): facts are keyed by event id, retractions are a set.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Literal
from uuid import UUID

from events.envelope import Event
from events.reference import EventRetracted
from events.timeutil import Period
from events.vocabulary import COST_ONLY, MONTHLY_PRICED, REPORT_LINES, PriceUnit, report_group
from projections import placement_batch
from projections import placement_compact as compact_facts
from projections.lines import LineFigures, LineKey
from projections.placement_batch import Plain
from projections.placement_facts import Fact, Placement, fact_of, resolve

Scope = Literal["external", "own_units", "all"]
Dim = Literal["category", "target_group", "group", "legal_basis", "regime", "sex", "unit_id"]


@dataclass(slots=True)
class State:
    """Placement facts by placement_id and event id, plus every retracted event id."""

    placements: dict[str, dict[UUID, Fact]] = field(default_factory=dict)
    retracted: set[UUID] = field(default_factory=set)
    arrivals: int = field(default=0, compare=False)  # tie-break counter, not part of the facts
    cache: dict[str, Placement | None] = field(default_factory=dict, compare=False, repr=False)
    compact: compact_facts.Columns | None = None  # kompakt läge (a replay): see projections.placement_compact
    # compact mode: what was read off near the last period asked for (reports ask several times)
    near: dict[Period, Near] = field(default_factory=dict, compare=False, repr=False)

    def resolved(self, near: Period | None = None) -> Iterator[Placement]:
        """Every placement as currently known (retracted facts ignored, corrections applied).

        Resolutions are cached per placement until a new fact for it (or any retraction) arrives
        (not in compact mode, where the state is sized for millions of placements). `near`: in compact
        mode, placements whose kept start and end lie wholly outside that period are not resolved (a
        hint: callers still test coverage; placements with full facts are always resolved).
        """
        if self.compact is not None:
            if near is None:
                yield from compact_facts.resolved(self.compact, self.placements, self.retracted)
                return
            kept = self._near(near)
            if kept.placements is None:
                kept.placements = list(compact_facts.resolved(self.compact, self.placements,
                                                              self.retracted, near))
            yield from kept.placements
            return
        for pid in sorted(self.placements):
            if pid not in self.cache:
                self.cache[pid] = resolve(self.placements[pid], pid, self.retracted)
            placement = self.cache[pid]
            if placement is not None:
                yield placement

    def split(self, period: Period) -> tuple[Plain | None, list[Placement]]:
        """The placements that may cover `period`: in compact mode its plain rows on columns and the
        others resolved (`projections.placement_batch`), else (None, every placement). Callers still
        test coverage and scope of the placements; every figure is a sum, union or maximum over both."""
        if self.compact is None:
            return None, list(self.resolved())
        kept = self._near(period)
        if kept.split is None:
            kept.split = placement_batch.split(self.compact, self.placements, self.retracted, period)
        return kept.split

    def _near(self, period: Period) -> Near:
        if period not in self.near:  # kept until the state changes (`apply` and the replay clear it)
            self.near = {period: Near()}
        return self.near[period]


@dataclass(slots=True)
class Near:
    """What was read off a compact state near one period: resolved placements, the batch split."""

    placements: list[Placement] | None = None
    split: tuple[Plain, list[Placement]] | None = None


def apply(state: State, event: Event) -> State:
    """Add one event's facts to `state` (mutated in place and returned). Other event types are ignored."""
    if state.near:
        state.near.clear()
    if isinstance(event.data, EventRetracted):
        state.retracted.add(event.data.retracted_event_id)
        state.cache.clear()
        return state
    found = fact_of(event, state.arrivals)
    if found is not None:
        pid, fact = found
        if state.compact is not None and fact.kind != "corrected" \
                and fact.event_id not in state.compact.retractable:
            state.compact.add(pid, fact)
            state.arrivals += 1
            return state
        state.placements.setdefault(pid, {})[fact.event_id] = fact
        state.cache.pop(pid, None)
        state.arrivals += 1
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    """Fold events into a new state (or into the given one, which is mutated)."""
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    """A new state holding both partial states' facts (neither input is changed)."""
    if a.compact is not None or b.compact is not None:
        raise ValueError("compact care_costs states (a replay's own) are not partition states to merge")
    out = State(placements={pid: dict(facts) for pid, facts in a.placements.items()},
                retracted=a.retracted | b.retracted, arrivals=a.arrivals + b.arrivals)
    for pid, facts in b.placements.items():
        mine = out.placements.setdefault(pid, {})
        for eid, fact in facts.items():
            mine.setdefault(eid, fact)
    return out


def in_scope(placement: Placement, scope: Scope) -> bool:
    if scope == "external":
        return placement.unit_id is None
    if scope == "own_units":
        return placement.unit_id is not None
    return True


def counted_care_days(placement: Placement, period: Period) -> int:
    """Vårddygn as the reports count them: none for cost-only lines (their persons are not per day)."""
    return 0 if placement.category in COST_ONLY else placement.care_days(period)


@dataclass(frozen=True, slots=True)
class Figures:
    """Care days, cost and distinct persons of a breakdown cell over a period (sums; merge by adding)."""

    period: Period
    care_days: int = 0
    cost_sek: Fraction = Fraction(0)
    persons: frozenset[str] = frozenset()

    @property
    def persons_per_day(self) -> Fraction:
        return Fraction(self.care_days, self.period.days)

    @property
    def cost_per_day(self) -> Fraction | None:
        return None if self.care_days == 0 else self.cost_sek / self.care_days

    @staticmethod
    def of(period: Period, placements: Iterable[Placement]) -> Figures:
        """The sums over placements (each with at least one covered day in the period)."""
        days, whole, part, persons = 0, 0, Fraction(0), set[str]()
        for p in placements:
            days += counted_care_days(p, period)
            cost = p.cost(period)
            if cost.denominator == 1:
                whole += cost.numerator  # int sums: Fraction's gcd per addition is slow by the thousand
            else:
                part += cost
            persons.add(p.person)
        return Figures(period, days, part + whole, frozenset(persons))


def _dim_value(placement: Placement, dim: Dim) -> str | None:
    if dim == "group":
        return report_group(placement.category, placement.target_group)
    value: str | None = getattr(placement, dim)
    return value


def covered_placements(state: State, period: Period, scope: Scope = "external") -> Iterator[Placement]:
    """Placements in scope with at least one covered day in the period."""
    for p in state.resolved(period):
        if in_scope(p, scope) and p.covered(period) is not None:
            yield p


def figures_by(
    state: State, period: Period, dims: Sequence[Dim], *, scope: Scope = "external"
) -> dict[tuple[str | None, ...], Figures]:
    """Figures per combination of the given dimensions, e.g. dims=("legal_basis", "regime")."""
    cells: dict[tuple[str | None, ...], list[Placement]] = {}
    for p in covered_placements(state, period, scope):
        cells.setdefault(tuple(_dim_value(p, d) for d in dims), []).append(p)
    ordered = sorted(cells.items(), key=lambda kv: tuple(v or "" for v in kv[0]))
    return {key: Figures.of(period, members) for key, members in ordered}


def own_regime_share(
    state: State, period: Period, by: Sequence[Dim] = ("category",), *, scope: Scope = "all"
) -> dict[tuple[str | None, ...], Fraction | None]:
    """Andel vårddygn i egen regi per breakdown: own-regime care days ÷ all care days (None without days)."""
    cells = figures_by(state, period, ("regime", *by), scope=scope)
    totals: dict[tuple[str | None, ...], list[int]] = {}
    for (regime, *rest), fig in cells.items():
        own_all = totals.setdefault(tuple(rest), [0, 0])
        own_all[0] += fig.care_days if regime == "own" else 0
        own_all[1] += fig.care_days
    return {k: (Fraction(own, days) if days else None) for k, (own, days) in totals.items()}


def line_figures(state: State, period: Period) -> dict[LineKey, LineFigures]:
    """The externa-köp lines' figures over the period: every report line, plus any other line with data."""
    report_keys = [LineKey(line.category, line.target_group) for line in REPORT_LINES]
    plain, others = state.split(period)
    by_line: dict[LineKey, list[Placement]] = {k: [] for k in report_keys}
    for p in others:
        if in_scope(p, "external") and p.covered(period) is not None:
            by_line.setdefault(LineKey(p.category, p.target_group), []).append(p)
    codes: dict[LineKey, list[int]] = {}
    if plain is not None:
        for code in plain.codes():
            a = plain.attrs[code]
            if a[3] is None:  # no unit_id: external (`in_scope`)
                codes.setdefault(LineKey(a[0], a[1]), []).append(code)
    keys = report_keys + sorted(k for k in by_line.keys() | codes.keys() if k not in set(report_keys))
    return {k: _line(k, by_line.get(k, []), _rows(plain, codes.get(k)), period) for k in keys}


def _rows(plain: Plain | None, codes: list[int] | None) -> Plain | None:
    return None if plain is None or codes is None else plain.of_codes(codes)


def _line(key: LineKey, placements: list[Placement], rows: Plain | None, period: Period) -> LineFigures:
    fig = Figures.of(period, placements)
    days, cost, persons = fig.care_days, fig.cost_sek, len(fig.persons)
    if rows is not None:
        days += 0 if key.category in COST_ONLY else rows.care_days()
        cost += rows.cost()
        persons = rows.distinct_persons(fig.persons)
    price, unit = latest_price(key, placements, period, rows)
    return LineFigures(key, period, days, cost, persons, price, unit)


def latest_price(
    key: LineKey, placements: Sequence[Placement], period: Period, rows: Plain | None = None
) -> tuple[Decimal | None, PriceUnit | None]:
    """The price in effect on the line's last covered day in the period.

    With several placements on that day: the mean of their prices in the line's own unit (month for
    monthly-priced lines, else day); if none has that unit, the mean of the other unit's prices.
    `rows`: more of the line's placements, plain rows on columns (day prices only).
    """
    lasts = [d for d in (p.last_covered_day(period) for p in placements) if d is not None]
    plain_last = None if rows is None else rows.last_covered_day()
    if plain_last is not None:
        lasts.append(plain_last)
    if not lasts:
        return None, None
    day: date = max(lasts)
    segs = [p.price_on(day) for p in placements if p.covered(period) and p.start <= day
            and (p.stop is None or day < p.stop)]
    plain_prices = [] if rows is None else rows.prices_on(day)
    own: PriceUnit = "month" if key.category in MONTHLY_PRICED else "day"
    has_own = any(s.unit == own for s in segs) or (own == "day" and bool(plain_prices))
    unit: PriceUnit = own if has_own else ("day" if own == "month" else "month")
    prices = [Fraction(s.price) for s in segs if s.unit == unit]
    whole = sum(plain_prices) if unit == "day" else 0
    count = len(prices) + (len(plain_prices) if unit == "day" else 0)
    mean = (sum(prices, Fraction(0)) + whole) / count
    return Decimal(mean.numerator) / Decimal(mean.denominator), unit


def headline_cost_per_day(figures: Iterable[LineFigures]) -> tuple[Fraction | None, Fraction | None]:
    """(unweighted, weighted) cost per care day over the day-priced rows that have care days.

    The first is the reports' "genomsnittlig kostnad per vårddygn (ovägt medelvärde)": the mean of
    the rows' cost per day (R09). The second is total cost ÷ total care days of the same rows.
    """
    rows = [f for f in figures if f.key.category not in MONTHLY_PRICED and f.key.category not in COST_ONLY
            and f.care_days > 0]
    if not rows:
        return None, None
    unweighted = sum((f.cost_sek / f.care_days for f in rows), Fraction(0)) / len(rows)
    weighted = sum((f.cost_sek for f in rows), Fraction(0)) / sum(f.care_days for f in rows)
    return unweighted, weighted
