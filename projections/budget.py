"""Budget, outcome (utfall) and deviation per budget line, and the controller's forecast overrides.

KPIs, in the municipality's own terms (BRIEF §2.4, §3.3; CONVENTIONS §3–4). Money in SEK, costs
positive, income and återsökt moms negative:

* **Budget helår** (annual budget) of a line = the amount of its latest `budget.set` plus every
  `budget.revised` (budgetjustering, with its reason) dated on or after that set; without a set, the
  sum of the revisions. A frame build-up (ram: last year's frame ± justeringar, R29) is a set plus
  revisions.
* **Periodens budget** = Σ over the components (the set, each revision) of amount × the profile's
  share of the period: `linear` = 1/12 per month, or twelve monthly shares; a part month counts pro
  rata by days. A revision without a profile follows the set's profile.
* **Utfall** (outcome) = Σ `ledger.posted` of the period's months, a part month pro rata by days.
* **Avvikelse** (deviation) = periodens budget − utfall; positive = överskott (surplus).
* **Budgetvolym**: a line's budget persons per day (`persons_per_day`) and budget price (`price_sek`).
* **Summakontroll** (budget consistency): the activity lines of a year (every line whose activity is
  not `total`) must sum to the stated total, the line with activity `total` (R30).
* **Prognosjustering** (`forecast.adjusted`): per line (year, category, target group, account group)
  the latest override of each of persons, price and total, with the reasons in effect.

Each `budget.set`, `budget.revised` and `forecast.adjusted` is kept as a fact by event id and the
line is resolved at query time; ledger postings are summed per (year, month, line) with each
posting's contribution kept, so a makulering (`event.retracted`) subtracts it exactly. `apply`
mutates the state it is given and returns it; `merge` of states folded from disjoint streams equals
the fold of all events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final, Literal
from uuid import UUID

from events.envelope import Event
from events.reference import (
    BudgetLine,
    BudgetRevised,
    BudgetSet,
    EventRetracted,
    ForecastAdjusted,
    LedgerPosted,
)
from events.timeutil import Month, Period, as_aware, local_date
from events.vocabulary import Category, TargetGroup

EXTERNAL_CARE: Final = "external_care"
TOTAL: Final = "total"
VAT_REFUND: Final = "vat_refund"

Profile = Literal["linear"] | tuple[Fraction, ...]
Order = tuple[datetime, datetime, str]  # business time, record time, event id: a total order of facts
Selector = Callable[[BudgetLine], bool]
PostingKey = tuple[int, int, BudgetLine]  # year, month, line
OverrideKey = tuple[int, Category | None, TargetGroup | None, str | None]


def _order(event: Event) -> Order:
    recorded = event.recorded_at if event.recorded_at is not None else as_aware(event.occurred_at)
    return (as_aware(event.occurred_at), recorded, str(event.event_id))


def _profile(raw: Literal["linear"] | list[Decimal]) -> Profile:
    return "linear" if raw == "linear" else tuple(Fraction(share) for share in raw)


@dataclass(frozen=True, slots=True)
class BudgetFact:
    order: Order
    year: int
    line: BudgetLine
    amount: Fraction
    profile: Profile
    persons_per_day: Fraction | None
    price_sek: Fraction | None


@dataclass(frozen=True, slots=True)
class RevisionFact:
    order: Order
    year: int
    line: BudgetLine
    change: Fraction
    reason: str
    profile: Profile | None


@dataclass(frozen=True, slots=True)
class OverrideFact:
    order: Order
    key: OverrideKey
    persons_per_day: Fraction | None
    price_sek: Fraction | None
    total_sek: Fraction | None
    reason: str


@dataclass(slots=True)
class State:
    budgets: dict[UUID, BudgetFact] = field(default_factory=dict)
    revisions: dict[UUID, RevisionFact] = field(default_factory=dict)
    overrides: dict[UUID, OverrideFact] = field(default_factory=dict)
    postings: dict[UUID, tuple[PostingKey, Fraction]] = field(default_factory=dict)
    outcome: dict[PostingKey, Fraction] = field(default_factory=dict)  # live sums of the postings
    retracted: set[UUID] = field(default_factory=set)


def _post(state: State, key: PostingKey, amount: Fraction) -> None:
    total = state.outcome.get(key, Fraction(0)) + amount
    state.outcome[key] = total


def _fact(event: Event) -> BudgetFact | RevisionFact | OverrideFact | None:
    d, order = event.data, _order(event)
    if isinstance(d, BudgetSet):
        persons = None if d.persons_per_day is None else Fraction(d.persons_per_day)
        price = None if d.price_sek is None else Fraction(d.price_sek)
        return BudgetFact(order, d.year, d.line, Fraction(d.amount_sek), _profile(d.profile), persons, price)
    if isinstance(d, BudgetRevised):
        profile = None if d.profile is None else _profile(d.profile)
        return RevisionFact(order, d.year, d.line, Fraction(d.change_sek), d.reason, profile)
    if isinstance(d, ForecastAdjusted):
        def frac(v: object) -> Fraction | None:
            return None if v is None else Fraction(str(v))
        key = (d.year, d.category, d.target_group, d.account_group)
        return OverrideFact(order, key, frac(d.persons_per_day), frac(d.price_sek), frac(d.total_sek),
                            d.reason)
    return None


def apply(state: State, event: Event) -> State:
    """Add a budget, revision, posting, override or retraction (mutates `state`, returns it)."""
    d, eid = event.data, event.event_id
    if isinstance(d, EventRetracted):
        if d.retracted_event_id not in state.retracted:
            state.retracted.add(d.retracted_event_id)
            if d.retracted_event_id in state.postings:
                key, amount = state.postings[d.retracted_event_id]
                _post(state, key, -amount)
    elif isinstance(d, LedgerPosted):
        if eid not in state.postings:
            state.postings[eid] = ((d.year, d.month, d.line), Fraction(d.amount_sek))
            if eid not in state.retracted:
                _post(state, (d.year, d.month, d.line), Fraction(d.amount_sek))
    else:
        fact = _fact(event)
        if isinstance(fact, BudgetFact):
            state.budgets[eid] = fact
        elif isinstance(fact, RevisionFact):
            state.revisions[eid] = fact
        elif isinstance(fact, OverrideFact):
            state.overrides[eid] = fact
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    """A new state equal to the fold of both sides' events (facts are unions; outcome sums add)."""
    out = State({**a.budgets, **b.budgets}, {**a.revisions, **b.revisions}, {**a.overrides, **b.overrides},
                {**a.postings, **b.postings}, dict(a.outcome), a.retracted | b.retracted)
    for key, amount in b.outcome.items():
        _post(out, key, amount)

    def live(s: State, eid: UUID) -> int:
        return int(eid in s.postings and eid not in s.retracted)
    for eid in (a.postings.keys() & (b.postings.keys() | b.retracted)) | (b.postings.keys() & a.retracted):
        key, amount = out.postings[eid]
        _post(out, key, amount * (live(out, eid) - live(a, eid) - live(b, eid)))
    return out


def _live(
    facts: Mapping[UUID, BudgetFact | RevisionFact], state: State, year: int
) -> list[tuple[UUID, Order]]:
    return sorted(((e, f.order) for e, f in facts.items() if f.year == year and e not in state.retracted),
                  key=lambda t: t[1])


@dataclass(frozen=True, slots=True)
class LineBudget:
    """A line's budget for a year as currently known: the base (latest set) and the revisions on it."""

    year: int
    line: BudgetLine
    base: BudgetFact | None
    revisions: tuple[RevisionFact, ...]

    @property
    def amount(self) -> Fraction:
        """Budget helår: the set's amount plus the revisions."""
        base = self.base.amount if self.base is not None else Fraction(0)
        return base + sum((r.change for r in self.revisions), Fraction(0))

    @property
    def profile(self) -> Profile:
        return self.base.profile if self.base is not None else "linear"

    def components(self) -> list[tuple[Fraction, Profile]]:
        out = [(self.base.amount, self.base.profile)] if self.base is not None else []
        out.extend((r.change, r.profile or self.profile) for r in self.revisions)
        return out

    @property
    def persons_per_day(self) -> Fraction | None:
        return None if self.base is None else self.base.persons_per_day

    @property
    def price_sek(self) -> Fraction | None:
        return None if self.base is None else self.base.price_sek


def budgets(state: State, year: int) -> dict[BudgetLine, LineBudget]:
    """Every line budgeted for the year, resolved as currently known."""
    bases: dict[BudgetLine, BudgetFact] = {}
    for eid, _ in _live(state.budgets, state, year):
        bases[state.budgets[eid].line] = state.budgets[eid]  # later sets replace earlier ones
    revs: dict[BudgetLine, list[RevisionFact]] = {}
    for eid, order in _live(state.revisions, state, year):
        rev = state.revisions[eid]
        base = bases.get(rev.line)
        if base is None or local_date(order[0]) >= local_date(base.order[0]):
            revs.setdefault(rev.line, []).append(rev)
    lines = sorted(bases.keys() | revs.keys(), key=BudgetLine.key)
    return {ln: LineBudget(year, ln, bases.get(ln), tuple(revs.get(ln, ()))) for ln in lines}


def line_budget(state: State, year: int, line: BudgetLine) -> LineBudget | None:
    return budgets(state, year).get(line)


def profile_share(profile: Profile, year: int, period: Period) -> Fraction:
    """The share of a year's amount that falls in the period (part months pro rata by days)."""
    share = Fraction(0)
    for m in period.months():
        if m.year == year:
            monthly = Fraction(1, 12) if profile == "linear" else profile[m.month - 1]
            share += monthly * Fraction(period.month_part(m).days, m.days)
    return share


def annual_budget(state: State, year: int, select: Selector) -> Fraction:
    return sum((b.amount for ln, b in budgets(state, year).items() if select(ln)), Fraction(0))


def period_budget(state: State, period: Period, select: Selector) -> Fraction:
    """Periodens budget of the selected lines."""
    total = Fraction(0)
    for year in range(period.start.year, period.end.year + 1):
        for line, b in budgets(state, year).items():
            if select(line):
                total += sum((amt * profile_share(p, year, period) for amt, p in b.components()), Fraction(0))
    return total


def outcome(state: State, period: Period, select: Selector) -> Fraction:
    """Utfall of the selected lines: postings of the period's months, part months pro rata by days."""
    total = Fraction(0)
    for (year, month, line), amount in state.outcome.items():
        m = Month(year, month)
        if amount and select(line) and period.start <= m.last and m.first <= period.end:
            total += amount * Fraction(period.month_part(m).days, m.days)
    return total


def deviation(state: State, period: Period, select: Selector) -> Fraction:
    """Avvikelse = periodens budget − utfall (positive = surplus)."""
    return period_budget(state, period, select) - outcome(state, period, select)


def posted_lines(state: State, year: int) -> set[BudgetLine]:
    return {line for (y, _, line) in state.outcome if y == year}


_ANY: Final = object()


def where(activity: object = _ANY, category: object = _ANY, target_group: object = _ANY,
          account_group: object = _ANY, exclude_account_groups: Iterable[str] = ()) -> Selector:
    """A selector of lines: each given field must equal (None = not narrowed); omitted = any."""
    given = (("activity", activity), ("category", category), ("target_group", target_group),
             ("account_group", account_group))
    wanted = {k: v for k, v in given if v is not _ANY}
    excluded = frozenset(exclude_account_groups)

    def select(line: BudgetLine) -> bool:
        return all(getattr(line, k) == v for k, v in wanted.items()) and line.account_group not in excluded
    return select


def external_line(category: Category, target_group: TargetGroup) -> Selector:
    """An externa-köp line's budget and outcome lines (återsökt moms excluded)."""
    return where(activity=EXTERNAL_CARE, category=category, target_group=target_group,
                 exclude_account_groups=(VAT_REFUND,))


@dataclass(frozen=True, slots=True)
class Override:
    """The forecast overrides in effect for a line, with the reasons of the events that set them."""

    persons_per_day: Fraction | None
    price_sek: Fraction | None
    total_sek: Fraction | None
    reasons: tuple[str, ...]


def override(
    state: State, year: int, category: Category | None = None, target_group: TargetGroup | None = None,
    account_group: str | None = None,
) -> Override | None:
    """The latest override of each field for the line (None when no override applies)."""
    key = (year, category, target_group, account_group)
    facts = sorted((f for e, f in state.overrides.items() if f.key == key and e not in state.retracted),
                   key=lambda f: f.order)
    chosen: dict[str, OverrideFact] = {}
    for f in facts:
        for name in ("persons_per_day", "price_sek", "total_sek"):
            if getattr(f, name) is not None:
                chosen[name] = f
    if not chosen:
        return None
    reasons = tuple(dict.fromkeys(f.reason for f in sorted(chosen.values(), key=lambda f: f.order)))

    def value(name: str) -> Fraction | None:
        return getattr(chosen[name], name) if name in chosen else None
    return Override(value("persons_per_day"), value("price_sek"), value("total_sek"), reasons)
