"""The KPI gauges read off a projection bundle for one reference day (no KPI is computed here).

Every figure comes from a projections function; this module only picks the periods, applies the
small-cell rule (`projections.smallcell`) and turns exact fractions into floats for Prometheus:

* **Periods**: "current month" is the reference day's month up to and including that day; "year to
  date" (ack) is 1 January up to the reference day. Percentages become ratios (97.9 % -> 0.979).
* **Beläggningsgrad** per own unit: `occupancy.monthly_occupancy` over the year to date (the
  reports' measures: place-days, individuals for group units); the month gauge is the last month,
  the accumulated gauge the unweighted mean of the months (`accumulated_unweighted`). Occupancy is a
  utilisation of places, not a count of persons, so it is exported for every unit; the number of
  individuals per unit is never exported.
* **Personer snitt per dygn** and **kostnad snitt per dygn** per externa-köp line
  (`care_costs.line_figures`, year to date): both are averages over the line's persons, so a line
  with 1–4 distinct persons is not exported. Cost-only lines have no persons per day.
* **Prognos** and **prognosavvikelse** per line (`forecast.run_rate`); lines with neither budget nor
  forecast are left out. Budgeted persons per day from `budget.line_budget`.
* **Aktualiseringar** per channel in the current month (`intake.figures`): a count of cases below
  the threshold is not exported; the all-channel total is municipality-wide and always exported.
* **Utredningar över gränsen** (`investigations.overdue`): the municipality-wide count always, per
  target group only when not a small cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from fractions import Fraction
from typing import Final

from events.reference import BudgetLine
from events.timeutil import STOCKHOLM, Month, Period
from events.vocabulary import CHANNELS, COST_ONLY, TARGET_GROUPS
from projections import budget, bundle, care_costs, forecast, intake, investigations, occupancy, smallcell
from projections.lines import LineFigures
from projections.reports.occupancy import DEFAULT_MEASURES

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Sample:
    name: str
    labels: Labels
    value: float


@dataclass(frozen=True, slots=True)
class Options:
    """What the KPI read-out depends on besides the state: the reference day and the rules' settings."""

    day: date
    small_cell_threshold: int = smallcell.DEFAULT_THRESHOLD
    investigation_limit_days: int = investigations.DEFAULT_LIMIT_DAYS


def _f(value: Fraction | int) -> float:
    return float(value)


def _line_labels(fig: LineFigures) -> Labels:
    return (("category", fig.key.category), ("target_group", fig.key.target_group))


def occupancy_samples(state: bundle.State, opts: Options) -> Iterator[Sample]:
    ytd = year_to_date(opts.day)
    units = occupancy.monthly_occupancy(state.occupancy, state.care_costs, ytd, measures=DEFAULT_MEASURES)
    for unit in units.values():
        labels = (("unit", unit.unit_id), ("kind", unit.kind))
        yield Sample("casestream_unit_places", labels, _f(unit.places))
        month = unit.months[-1].percent
        if month is not None:
            yield Sample("casestream_unit_occupancy_month_ratio", labels, _f(month / 100))
        ack = unit.accumulated_unweighted
        if ack is not None:
            yield Sample("casestream_unit_occupancy_accumulated_ratio", labels, _f(ack / 100))


def line_samples(state: bundle.State, opts: Options) -> Iterator[Sample]:
    ytd = year_to_date(opts.day)
    figures = care_costs.line_figures(state.care_costs, ytd)
    year = opts.day.year
    for fig in figures.values():
        labels = _line_labels(fig)
        if fig.key.category not in COST_ONLY and not smallcell.suppressed(
                fig.persons, threshold=opts.small_cell_threshold):
            yield Sample("casestream_line_persons_per_day", labels, _f(fig.persons_per_day))
            if fig.cost_per_day is not None:
                yield Sample("casestream_line_cost_per_care_day_sek", labels, _f(fig.cost_per_day))
        line = BudgetLine(category=fig.key.category, target_group=fig.key.target_group)
        planned = budget.line_budget(state.budget, year, line)
        if planned is not None and planned.persons_per_day is not None:
            yield Sample("casestream_line_budget_persons_per_day", labels, _f(planned.persons_per_day))
    for fc in forecast.run_rate(figures, state.budget, year).values():
        if fc.total_sek == 0 and fc.budget_sek == 0:
            continue
        labels = (("category", fc.key.category), ("target_group", fc.key.target_group))
        yield Sample("casestream_forecast_total_sek", labels, _f(fc.total_sek))
        yield Sample("casestream_forecast_budget_sek", labels, _f(fc.budget_sek))
        yield Sample("casestream_forecast_deviation_sek", labels, _f(fc.deviation_sek))
    unweighted, weighted = care_costs.headline_cost_per_day(figures.values())
    for name, value in (("unweighted", unweighted), ("weighted", weighted)):
        if value is not None:
            yield Sample("casestream_headline_cost_per_care_day_sek", (("weighting", name),), _f(value))


def intake_samples(state: bundle.State, opts: Options) -> Iterator[Sample]:
    month = Period(opts.day.replace(day=1), opts.day)
    figures = intake.figures(state.intake, month)
    for channel in CHANNELS:
        n = figures.by_channel(channel)
        if not smallcell.suppressed(n, threshold=opts.small_cell_threshold):
            yield Sample("casestream_intake_month_cases", (("channel", channel),), _f(n))
    yield Sample("casestream_intake_month_all_cases", (), _f(figures.total))
    rolling = intake.rolling_mean(state.intake, Month.of(opts.day).prev())
    if rolling is not None:
        yield Sample("casestream_intake_rolling_mean_cases", (), _f(rolling))


def investigation_samples(state: bundle.State, opts: Options) -> Iterator[Sample]:
    late = investigations.overdue(state.investigations, opts.day, opts.investigation_limit_days)
    yield Sample("casestream_investigations_overdue_cases", (), _f(len(late)))
    for group in TARGET_GROUPS:
        n = sum(1 for i in late if i.opened is not None and i.opened.target_group == group)
        if not smallcell.suppressed(n, threshold=opts.small_cell_threshold):
            labels = (("target_group", group),)
            yield Sample("casestream_investigations_overdue_by_group_cases", labels, _f(n))
    yield Sample("casestream_investigation_limit_days", (), _f(opts.investigation_limit_days))


def year_to_date(day: date) -> Period:
    return Period(date(day.year, 1, 1), day)


def header(state: bundle.State, opts: Options) -> list[Sample]:
    start = datetime.combine(opts.day, time(0), tzinfo=STOCKHOLM)
    return [Sample("casestream_kpi_reference_timestamp_seconds", (), start.timestamp()),
            Sample("casestream_kpi_events", (), _f(state.events)),
            Sample("casestream_kpi_position", (), _f(state.last_position))]


Version = tuple[int, ...]
Group = tuple[Callable[[bundle.State], Version], Callable[[bundle.State, Options], Iterator[Sample]]]


def _placements(s: bundle.State) -> Version:
    return (s.care_costs.arrivals, len(s.care_costs.retracted))


def _budget(s: bundle.State) -> Version:
    b = s.budget
    return (len(b.budgets), len(b.revisions), len(b.overrides), len(b.postings), len(b.retracted))


# Each group: a version of the sub-states it reads, and its samples. The projections keep their facts
# keyed by event id and never drop one (retractions are a growing set), so an event that can change a
# group's figures always changes its version; an unchanged version means unchanged samples.
GROUPS: Final[dict[str, Group]] = {
    "occupancy": (lambda s: (s.occupancy.arrivals, len(s.occupancy.retracted), *_placements(s)),
                  occupancy_samples),
    "lines": (lambda s: (*_placements(s), *_budget(s)), line_samples),
    "intake": (lambda s: (len(s.intake.contributions), len(s.intake.retracted)), intake_samples),
    "investigations": (lambda s: (len(s.investigations.owner), len(s.investigations.retracted)),
                       investigation_samples),
}


def samples(state: bundle.State, opts: Options) -> list[Sample]:
    """All KPI samples of the state on the reference day, in catalogue order within each group."""
    out = header(state, opts)
    for _, read in GROUPS.values():
        out.extend(read(state, opts))
    return out


class Cache:
    """`samples` recomputing only the groups whose version (or the options) changed since last time.

    A stream of aktualiseringar then costs the intake group only, not a re-read of every placement.
    """

    def __init__(self) -> None:
        self._groups: dict[str, tuple[tuple[Options, Version], list[Sample]]] = {}

    def samples(self, state: bundle.State, opts: Options) -> list[Sample]:
        out = header(state, opts)
        for name, (version, read) in GROUPS.items():
            key = (opts, version(state))
            hit = self._groups.get(name)
            if hit is None or hit[0] != key:
                hit = (key, list(read(state, opts)))
                self._groups[name] = hit
            out.extend(hit[1])
        return out
