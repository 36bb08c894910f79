"""What the simulated forecast (prognos med osäkerhet) is made of: a plan and a model estimated from it.

* A **`Plan`** is a forked, immutable copy of the forecast's inputs: the year, the forecast date
  (`as_of`, the last business day counted as utfall), every placement as known then, and the
  what-if adjustments (`Adjust`: inflow or price factors per line from a day). Scenarios
  (`projections.scenarios`) return new plans; the live state is never touched.
* A **`Model`** is estimated from the *base* plan only (so a scenario never changes the estimates):
  the durations (`forecast_durations`, Kaplan–Meier per category × target group × legal basis), the
  inflow (`forecast_inflow`, rate per line with seasonality) and each line's **aktuellt pris**
  (current price) for new placements: per future day the mean daily cost of the line's placements
  open at the forecast date (their price segments, so repricing known so far counts), else of the
  line's latest started placement. A monthly price costs price ÷ days in the month per day.

Scope: the externa-köp placements (no `unit_id`), by line = category × target group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from events.timeutil import days_in_month
from events.vocabulary import REPORT_LINES
from projections import forecast_inflow
from projections.forecast_durations import DurationModel, Obs
from projections.forecast_inflow import InflowModel
from projections.lines import LineKey
from projections.placement_facts import Placement


@dataclass(frozen=True, slots=True)
class Adjust:
    """A factor on the inflow or price of the matching lines from `start` on (None matches any)."""

    start: date
    factor: Fraction
    category: str | None = None
    target_group: str | None = None

    def applies(self, key: LineKey, day: date) -> bool:
        return (day >= self.start and self.category in (None, key.category)
                and self.target_group in (None, key.target_group))


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Simulation sizes and estimation windows (defaults documented in docs/forecast.md)."""

    simulations: int = 1000
    window_months: int = 12  # inflow rate from this many recent months
    min_tail: int = 5  # durations needed at or beyond a placement's age before falling back
    min_years: int = 2  # seasonality needs every calendar month seen this often
    observed_from: date | None = None  # first day of the data (delayed entry); None = first departure
    bootstrap: int = 30  # duration-distribution replicates (parameter uncertainty); 0 = point estimate


@dataclass(frozen=True, slots=True)
class Plan:
    year: int
    as_of: date
    placements: tuple[Placement, ...]
    inflow: tuple[Adjust, ...] = ()
    prices: tuple[Adjust, ...] = ()
    label: str = "Basprognos"
    notes: tuple[str, ...] = ()  # what a scenario did that the table does not show (Swedish)

    @property
    def cutoff(self) -> date:
        """The first day not yet counted as utfall."""
        return self.as_of + timedelta(days=1)

    @property
    def year_stop(self) -> date:
        return date(self.year + 1, 1, 1)

    @property
    def horizon(self) -> int:
        """Nights from the cutoff to year end (0 once the year is over)."""
        return max(0, (self.year_stop - self.cutoff).days)

    def external(self) -> Iterable[Placement]:
        return (p for p in self.placements if p.unit_id is None)

    def factor(self, adjusts: Sequence[Adjust], key: LineKey, day: date) -> float:
        if not adjusts:
            return 1.0
        out = Fraction(1)
        for a in adjusts:
            if a.applies(key, day):
                out *= a.factor
        return float(out)


def key_of(p: Placement) -> LineKey:
    return LineKey(p.category, p.target_group)


def daily_rates(p: Placement, plan: Plan, days: int, *, whole: bool = False) -> list[float]:
    """The placement's cost per night for the nights cutoff + i (0 before its start and the year).

    `whole=True` prices every night from the cutoff, as a price reference for new placements.
    """
    out, start = [0.0] * days, plan.cutoff
    year_start = date(plan.year, 1, 1)
    for i in range(days):
        day = start + timedelta(days=i)
        if day < year_start or (day < p.start and not whole):
            continue
        seg = p.price_on(day)
        price = float(seg.price)
        out[i] = price if seg.unit == "day" else price / days_in_month(day.year, day.month)
    return out


def is_open(p: Placement, cutoff: date) -> bool:
    """Open at the cutoff: no departure known, or one after the cutoff."""
    return p.stop is None or p.stop > cutoff


@dataclass(frozen=True, slots=True)
class Model:
    durations: DurationModel
    inflow: InflowModel
    line_rates: dict[LineKey, list[float]] = field(default_factory=dict)  # per night from the cutoff

    def lines(self) -> list[LineKey]:
        return sorted(set(self.inflow.rates) | set(self.line_rates))


def report_keys(placements: Iterable[Placement]) -> list[LineKey]:
    """Every report line (REPORT_LINES order), then any other line with placements."""
    keys = [LineKey(line.category, line.target_group) for line in REPORT_LINES]
    extra = sorted({key_of(p) for p in placements} - set(keys))
    return keys + extra


def _line_rates(plan: Plan, keys: Sequence[LineKey]) -> dict[LineKey, list[float]]:
    cutoff, days = plan.cutoff, plan.horizon
    by_line: dict[LineKey, list[Placement]] = {}
    for p in plan.external():
        if p.start < cutoff:
            by_line.setdefault(key_of(p), []).append(p)
    out: dict[LineKey, list[float]] = {}
    for key in keys:
        known = by_line.get(key, [])
        ref = [p for p in known if is_open(p, cutoff)] or sorted(known, key=lambda p: p.start)[-1:]
        rates = [daily_rates(p, plan, days, whole=True) for p in ref]
        out[key] = [sum(r[i] for r in rates) / len(rates) for i in range(days)] if rates else [0.0] * days
    return out


def observed_from(plan: Plan, config: SimConfig) -> date | None:
    """When observation began: the configured day, else the first registered departure (or None).

    A history imported from some day on holds only the placements running then or started later;
    its first departure comes within days of that day. In a full history the placements started
    before the first departure are few and young, so their delayed entry changes little.
    """
    if config.observed_from is not None:
        return config.observed_from
    stops = (p.stop for p in plan.external() if p.stop is not None and p.stop <= plan.cutoff)
    return min(stops, default=None)


def durations_rows(plan: Plan, config: SimConfig) -> Iterable[tuple[str, str, str, Obs]]:
    """(category, target group, legal basis, (nights, ended, entry age)) of every external placement."""
    cutoff, since = plan.cutoff, observed_from(plan, config)
    for p in plan.external():
        if p.start >= cutoff:
            continue
        entry = 0 if since is None else max(0, (since - p.start).days)
        if p.stop is not None:
            nights = (p.stop - p.start).days
            yield p.category, p.target_group, p.legal_basis, (nights, True, min(entry, nights))
        else:
            nights = (cutoff - p.start).days
            yield p.category, p.target_group, p.legal_basis, (nights, False, min(entry, nights))


def estimate(plan: Plan, config: SimConfig) -> Model:
    """The model of the base plan: durations, inflow and current prices per line."""
    external = list(plan.external())
    keys = report_keys(external)
    durations = DurationModel.estimate(durations_rows(plan, config), config.min_tail)
    inflow = forecast_inflow.estimate(((key_of(p), p.start) for p in external), plan.cutoff, keys,
                                      window_months=config.window_months, min_years=config.min_years)
    return Model(durations, inflow, _line_rates(plan, keys))


def plan_of(placements: Iterable[Placement], year: int, as_of: date, label: str = "Basprognos") -> Plan:
    """The base plan from resolved placements (e.g. `care_costs.State.resolved()`), as a frozen copy."""
    return Plan(year, as_of, tuple(placements), label=label)
