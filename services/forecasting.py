"""The forecast service: the simulated band beside the run rate, scenarios, month-end history, accuracy.

* `compute(state, year, …)` — the forecast from folded states (`care_costs`, `budget`): the band
  (`projections.forecast_sim`), the run-rate forecast of the report (`projections.forecast`, R10–R12)
  for 1 January to the forecast date, the budget per line and any scenarios (on forked plans).
* `forecast_from_store(store, year, …)` — the same, folding the store as known at the end of the
  forecast date (`--as-of`), or as known now with the forecast date = the latest business day in
  the data (capped at 31 December).
* `month_end_history(store, year, …)` — **prognoshistorik**: the forecast as it stood at the end of
  every month of the year, from the store as known at the end of that month (one pass, merged per
  month end) with the same seed, so it is itself replayable: the same store gives the same history.
* `accuracy(store, history)` — **prognosträffsäkerhet** once the year is closed (the clock, or a
  registration in the store, is past the end of 31 December): per line and month, p50 − outcome,
  the error in % of the outcome, and whether the outcome lay inside p10–p90. The outcome is the
  year's cost as known now.
* `band_gauges(view)` / `bundle_gauges(bundle_state, day)` — p10/p50/p90 per line as gauge samples
  for the exporter (`casestream_forecast_band_sek{category,target_group,quantile}`).

Seeds: `seed` feeds `random.Random(seed)`; the default comes from settings (`forecast_seed`).
"""

from __future__ import annotations

import random
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from fractions import Fraction

from events.envelope import Event
from events.timeutil import Month, Period, end_of_day
from projections import budget, bundle, care_costs, forecast, scenarios
from projections.forecast import LineForecast
from projections.forecast_model import SimConfig, estimate, plan_of
from projections.forecast_sim import Forecast, LineBand, simulate
from projections.lines import LineKey
from projections.reports.base import Report
from services.store.base import EventStore

DEFAULT_SEED = 2021
BAND_GAUGE = "casestream_forecast_band_sek"


@dataclass(slots=True)
class Folded:
    """The two projections the forecast reads, folded together from one pass over the events."""

    care: care_costs.State = field(default_factory=care_costs.State)
    budget: budget.State = field(default_factory=budget.State)

    @staticmethod
    def of(events: Iterable[Event]) -> Folded:
        out = Folded()
        for event in events:
            care_costs.apply(out.care, event)
            budget.apply(out.budget, event)
        return out

    def merge(self, other: Folded) -> Folded:
        """A new state equal to the fold of both sides' events (neither side is changed)."""
        return Folded(care_costs.merge(self.care, other.care), budget.merge(self.budget, other.budget))

    def latest_day(self) -> date | None:
        """The latest business day of any placement fact (None without placements)."""
        days = [f.day for facts in self.care.placements.values() for f in facts.values()]
        return max(days, default=None)

    def latest_recorded(self) -> datetime | None:
        """The latest registration time of any placement fact (None without registered facts)."""
        times = [f.recorded_at for facts in self.care.placements.values() for f in facts.values()
                 if f.recorded_at is not None]
        return max(times, default=None)


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    forecast: Forecast
    differences: dict[LineKey | None, scenarios.Difference]


@dataclass(frozen=True, slots=True)
class ForecastView:
    year: int
    as_of: date
    known_at: datetime | None
    seed: int
    base: Forecast
    run_rate: dict[LineKey, LineForecast]
    budgets: dict[LineKey, Fraction]
    scenarios: tuple[ScenarioResult, ...] = ()

    def report(self) -> Report:
        from projections.forecast_band_report import band_report

        return band_report(self.base, self.run_rate, self.budgets,
                           [(s.forecast, s.differences) for s in self.scenarios])


def default_as_of(state: Folded, year: int) -> date:
    """The latest business day in the data, capped at 31 December; 1 January without data."""
    latest = state.latest_day()
    if latest is None:
        return date(year, 1, 1)
    return min(latest, date(year, 12, 31))


def run_rate(state: Folded, year: int, as_of: date) -> dict[LineKey, LineForecast]:
    """The report's run-rate forecast for 1 January to the forecast date (empty before 1 January)."""
    start = date(year, 1, 1)
    if as_of < start:
        return {}
    period = Period(start, min(as_of, date(year, 12, 31)))
    return forecast.run_rate(care_costs.line_figures(state.care, period), state.budget, year)


def compute(
    state: Folded, year: int, as_of: date, *, seed: int = DEFAULT_SEED, config: SimConfig | None = None,
    scenario_specs: Sequence[scenarios.Scenario] = (), known_at: datetime | None = None,
) -> ForecastView:
    """The band, run rate, budgets and scenarios as of a business day (states are not changed)."""
    config = config or SimConfig()
    plan = plan_of(state.care.resolved(), year, as_of)
    model = estimate(plan, config)
    base = simulate(model, plan, random.Random(seed), config)
    results = []
    for spec in scenario_specs:
        alt = simulate(model, scenarios.apply(spec, plan), random.Random(seed), config)
        results.append(ScenarioResult(alt, scenarios.compare(base, alt)))
    rr = run_rate(state, year, as_of)
    keys = set(base.lines) | set(rr)
    budgets = {k: budget.annual_budget(state.budget, year, budget.external_line(k.category, k.target_group))
               for k in sorted(keys)}
    return ForecastView(year, as_of, known_at, seed, base, rr, budgets, tuple(results))


def forecast_from_store(
    store: EventStore, year: int, *, as_of: date | None = None, seed: int = DEFAULT_SEED,
    config: SimConfig | None = None, scenario_specs: Sequence[scenarios.Scenario] = (),
) -> ForecastView:
    """As known at the end of `as_of` (business cutoff = as_of, capped at 31 December), or as known now."""
    known_at = None if as_of is None else end_of_day(as_of)
    state = Folded.of(store.read_all(known_at=known_at))
    cutoff = default_as_of(state, year) if as_of is None else min(as_of, date(year, 12, 31))
    return compute(state, year, cutoff, seed=seed, config=config, scenario_specs=scenario_specs,
                   known_at=known_at)


@dataclass(frozen=True, slots=True)
class MonthForecast:
    month: Month
    known_at: datetime
    view: ForecastView


def month_end_history(
    store: EventStore, year: int, *, seed: int = DEFAULT_SEED, config: SimConfig | None = None,
    through: date | None = None,
) -> list[MonthForecast]:
    """The forecast as known at the end of each month of the year (up to `through`, default all 12).

    One pass over the store: each event is folded into the part of the first month end at or after
    its registration, and the state as known at month end k is the merge of parts 0..k, which equals
    the fold of `read_all(known_at=end of month k)` (tested).
    """
    months = [Month(year, m) for m in range(1, 13) if through is None or Month(year, m).last <= through]
    if not months:
        return []
    ends = [end_of_day(m.last) for m in months]
    parts = [Folded() for _ in months]
    for event in store.read_all(known_at=ends[-1]):
        if event.recorded_at is not None:
            part = parts[bisect_left(ends, event.recorded_at)]
            care_costs.apply(part.care, event)
            budget.apply(part.budget, event)
    out, state = [], Folded()
    for month, known_at, part in zip(months, ends, parts, strict=True):
        state = state.merge(part)
        view = compute(state, year, month.last, seed=seed, config=config, known_at=known_at)
        out.append(MonthForecast(month, known_at, view))
    return out


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Forecast at a month end against the final outcome of one line (key None: the total)."""

    key: LineKey | None
    month: Month
    p50_sek: Fraction
    outcome_sek: Fraction
    inside_band: bool

    @property
    def error_sek(self) -> Fraction:
        """Prognosfel = p50 − utfall (positive = forecast too high)."""
        return self.p50_sek - self.outcome_sek

    @property
    def error_pct(self) -> Fraction | None:
        return None if self.outcome_sek == 0 else 100 * self.error_sek / self.outcome_sek


class YearNotClosed(ValueError):
    """Accuracy needs the final outcome: something must have been registered after 31 December."""


def outcome(state: Folded, year: int) -> dict[LineKey, Fraction]:
    """The year's cost per line as the state knows it (the final utfall once the year is closed)."""
    figures = care_costs.line_figures(state.care, Period.year(year))
    return {k: f.cost_sek for k, f in figures.items()}


def accuracy(
    store: EventStore, history: Sequence[MonthForecast], year: int, *, now: datetime | None = None
) -> list[Accuracy]:
    """Per month and line (and the total, key None), once the year is closed.

    Closed = `now` (default: the clock) is past the end of 31 December, or the store already holds a
    registration after it (a simulated or imported history can be complete before the clock is).
    """
    state = Folded.of(store.read_all())
    year_end = end_of_day(date(year, 12, 31))
    latest = state.latest_recorded()
    clock = now if now is not None else datetime.now(UTC)
    if clock <= year_end and (latest is None or latest <= year_end):
        seen = "nothing" if latest is None else f"registrations up to {latest.date()}"
        raise YearNotClosed(f"the year {year} is not closed on {clock.date()}: the store holds {seen}")
    final = outcome(state, year)
    rows = []
    for item in history:
        base = item.view.base
        bands: list[tuple[LineKey | None, LineBand]] = [*base.lines.items(), (None, base.total)]
        for key, band in bands:
            actual = sum(final.values(), Fraction(0)) if key is None else final.get(key, Fraction(0))
            inside = band.p10_sek <= actual <= band.p90_sek
            rows.append(Accuracy(key, item.month, band.p50_sek, actual, inside))
    return rows


def history_rows(history: Sequence[MonthForecast]) -> list[dict[str, object]]:
    """The history as plain rows (month, line, p10/p50/p90, run rate; SEK), e.g. to keep as JSON."""
    rows: list[dict[str, object]] = []
    for item in history:
        for key, band in item.view.base.lines.items():
            rr = item.view.run_rate.get(key)
            rows.append({"month": str(item.month), "known_at": item.known_at.isoformat(),
                         "category": key.category, "target_group": key.target_group,
                         "p10_sek": band.p10_sek, "p50_sek": band.p50_sek, "p90_sek": band.p90_sek,
                         "run_rate_total_sek": None if rr is None else rr.run_rate_total_sek})
    return rows


@dataclass(frozen=True, slots=True)
class Gauge:
    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


def bundle_gauges(state: bundle.State, day: date, *, seed: int = DEFAULT_SEED,
                  config: SimConfig | None = None) -> list[Gauge]:
    """The band gauges for the year of `day`, forecast as of `day`, from a folded bundle (not changed).

    For the exporter, whose sources hand out bundles. A forecast takes seconds on a real history:
    compute it per new store head or on a schedule, not on every scrape.
    """
    folded = Folded(state.care_costs, state.budget)
    return band_gauges(compute(folded, day.year, day, seed=seed, config=config))


def band_gauges(view: ForecastView) -> list[Gauge]:
    """p10/p50/p90 per line, SEK, for `casestream_forecast_band_sek{category,target_group,quantile}`."""
    out = []
    for key, band in view.base.lines.items():
        for name, value in (("p10", band.p10_sek), ("p50", band.p50_sek), ("p90", band.p90_sek)):
            labels = (("category", key.category), ("target_group", key.target_group), ("quantile", name))
            out.append(Gauge(BAND_GAUGE, labels, float(value)))
    return out
