"""Typed query functions the UI (and the metrics exporter) read; the UI computes no KPI itself.

Each function takes a `KpiSource` (`services.queries_source`: the store folded incrementally, or a
read model) and a business period, and returns plain, small-cell protected values. This module holds
the Översikt tiles and the period helpers, and re-exports the screens' queries:

* `external_purchases_table`, `forecast_table`, `forecast_through_year` (services.queries_economy);
* `occupancy_table`, `occupancy_matrix`, `places_over_time` (services.queries_units);
* `intake_table`, `intake_by_channel`, `investigations_table` (services.queries_cases);
* `as_of_comparison`, `differences` (services.queries_asof);
* `to_csv`, `to_xlsx` downloads of any `TableView` (services.queries_view).

Tiles (Översikt), each for the chosen period, with the change against the previous period of the
same length (whole months shift by months) and against budget where a budget exists:
* **Personer snitt per dygn** (externa köp, Totalt row) vs budgeted persons per day;
* **Kostnad per vårddygn, ovägt medelvärde** (R09) vs the mean budget day price, and the **vägt** figure;
* **Beläggningsgrad egna boenden** (Ack, "Samtliga egna boenden");
* **Aktualiseringar denna månad** (the month of the period's last day, up to that day, against the
  same days of the month before; a month is a breakdown, so fewer than the threshold shows "<5");
* **Prognosavvikelse** (budget − prognos, Totalt row of the forecast, mnkr).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

from events.timeutil import Month, Period, local_date
from projections import bundle, care_costs, intake, smallcell
from projections.reports.base import Report, Value
from projections.reports.external_purchases import external_purchases_report
from projections.reports.occupancy import occupancy_report
from services.bootstrap import bootstrap
from services.queries_asof import AsOfComparison, as_of_comparison, differences
from services.queries_cases import intake_by_channel, intake_table, investigations_table
from services.queries_economy import (
    external_purchases_table,
    forecast_report_of,
    forecast_table,
    forecast_through_year,
)
from services.queries_source import Freshness, KpiSource, StoreSource, reading
from services.queries_units import occupancy_matrix, occupancy_table, places_over_time
from services.queries_view import TableView, to_csv, to_xlsx
from services.render import round_half_up
from services.settings import Settings

__all__ = [
    "AsOfComparison", "Freshness", "KpiSource", "StoreSource", "TableView", "Tile", "as_of_comparison",
    "default_period", "differences", "external_purchases_table", "forecast_table", "forecast_through_year",
    "intake_by_channel", "intake_table", "investigations_table", "occupancy_matrix", "occupancy_table",
    "open_source", "overview_tiles", "places_over_time", "previous_period", "same_days_month_before",
    "to_csv", "to_xlsx",
]


def open_source(settings: Settings | None = None) -> StoreSource:
    """The UI's one source: the store named by settings (CASESTREAM_DB), folded incrementally."""
    return StoreSource(bootstrap(settings).store)


def previous_period(period: Period) -> Period:
    """The period of the same length just before: whole months shift by months, else by days."""
    months = period.months()
    if period.start == months[0].first and period.end == months[-1].last:
        first = months[0]
        for _ in months:
            first = first.prev()
        last = months[0].prev()
        return Period(first.first, last.last)
    end = date.fromordinal(period.start.toordinal() - 1)
    return Period(date.fromordinal(end.toordinal() - period.days + 1), end)


def data_through(state: bundle.State) -> date | None:
    """The latest business day any intake, investigation or placement fact refers to."""
    days = list(state.intake.counts) + [day for day, _ in state.investigations.opened]
    days += [f.day for facts in state.care_costs.placements.values() for f in facts.values()]
    return max(days) if days else None


def default_period(source: KpiSource) -> Period:
    """1 January to the end of the latest month with data (year to date), else of the newest record."""
    with reading(source):
        last = data_through(source.bundle(None))
    if last is None:
        recorded = source.freshness().recorded_at
        last = local_date(recorded) if recorded is not None else date(2000, 1, 1)
    return Period(date(last.year, 1, 1), Month.of(last).last)


@dataclass(frozen=True, slots=True)
class Tile:
    key: str
    label_sv: str
    unit: str  # "", "kr", "%", "mnkr"
    value: Decimal | str | None  # rounded half up; "<5" when hidden; None without data
    vs_previous: Decimal | None
    vs_budget: Decimal | None


def _frac(value: Value) -> Fraction | None:
    return Fraction(value) if isinstance(value, int | Fraction | Decimal) else None


def _tile(key: str, label: str, unit: str, decimals: int, value: Value, previous: Value,
          budget: Value = None, scale: int = 1) -> Tile:
    now, before, plan = _frac(value), _frac(previous), _frac(budget)

    def r(x: Fraction | None) -> Decimal | None:
        return None if x is None else round_half_up(x / scale, decimals)
    return Tile(key, label, unit, r(now), r(None if now is None or before is None else now - before),
                r(None if now is None or plan is None else now - plan))


Row = dict[str, Value]


def _totals(state: bundle.State, period: Period) -> tuple[Row, Row, Row]:
    figures = care_costs.line_figures(state.care_costs, period)
    ext = external_purchases_report(figures, state.budget, period, period.end.year)
    occ = occupancy_report(state.occupancy, state.care_costs, period)
    return _row(ext, "total"), _row(occ, "total"), _row(forecast_report_of(state, period), "total")


def _row(report: Report, row_type: str) -> dict[str, Value]:
    return next((r for r in report.rows if r["row_type"] == row_type), {})


def same_days_month_before(part: Period) -> Period:
    """The same days of the previous month (day numbers capped at that month's length)."""
    prev = Month.of(part.start).prev()
    return Period(date(prev.year, prev.month, min(part.start.day, prev.days)),
                  date(prev.year, prev.month, min(part.end.day, prev.days)))


def _intake_tile(state: bundle.State, period: Period, threshold: int) -> Tile:
    month = Month.of(period.end)
    part = Period(max(period.start, month.first), period.end)
    now = intake.figures(state.intake, part).total
    before = intake.figures(state.intake, same_days_month_before(part)).total
    shown: Decimal | str = smallcell.protect(Decimal(now), now, threshold=threshold)
    hidden = isinstance(shown, str) or smallcell.suppressed(before, threshold=threshold)
    return Tile("intake_month", "Aktualiseringar denna månad", "", shown,
                None if hidden else Decimal(now - before), None)


def overview_tiles(source: KpiSource, period: Period, *,
                   threshold: int = smallcell.DEFAULT_THRESHOLD) -> list[Tile]:
    """The Översikt tiles for the period with the change vs the previous period and vs budget."""
    prev = previous_period(period)
    with reading(source):
        state = source.bundle(None)
        ext, occ, fc = _totals(state, period)
        p_ext, p_occ, p_fc = _totals(state, prev)
        month_tile = _intake_tile(state, period, threshold)
    return [
        _tile("persons_per_day", "Personer snitt per dygn", "", 1, ext.get("persons_per_day"),
              p_ext.get("persons_per_day"), ext.get("budget_persons_per_day")),
        _tile("cost_per_day", "Kostnad per vårddygn, ovägt medelvärde", "kr", 0, ext.get("cost_per_day"),
              p_ext.get("cost_per_day"), ext.get("budget_price_sek")),
        _tile("cost_per_day_weighted", "Kostnad per vårddygn, vägt medelvärde", "kr", 0,
              ext.get("cost_per_day_weighted"), p_ext.get("cost_per_day_weighted")),
        _tile("occupancy", "Beläggningsgrad egna boenden", "%", 1, occ.get("ack"), p_occ.get("ack")),
        month_tile,
        _tile("forecast_deviation", "Prognosavvikelse mot budget", "mnkr", 1,
              fc.get("forecast_deviation_sek"), p_fc.get("forecast_deviation_sek"), scale=1_000_000),
    ]
