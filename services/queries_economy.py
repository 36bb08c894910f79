"""Economy screens: the externa-köp table, the forecast per line and the forecast through the year.

Every figure comes from the report builders of `projections/reports/` (the UI computes none):
* **Externa köp** (Extern vård och behandling per verksamhet): `external_purchases_report`; the
  forecast year is the year of the period's last day.
* **Prognos** (helårsprognos per line, forecast vs budget, prognosavvikelse = budget − prognos):
  `forecast_report`; "through the year" is that report's total row for the periods 1 January to the
  end of each month so far.

Small cells: a line's person-based cells (personer snitt per dygn, individer, kostnad snitt per dygn,
prognos personer, prognos pris, the weighted cost) rest on the line's distinct persons in the
period; a block subtotal on the block's distinct persons; the Totalt row is the whole municipality
and is shown. Money sums are not counts and are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Final

from events.timeutil import Month, Period
from projections import bundle, care_costs, smallcell
from projections.lines import LineKey
from projections.reports.base import Report, Value
from projections.reports.external_purchases import external_purchases_report
from projections.reports.forecast import forecast_report
from services.queries_source import KpiSource, reading
from services.queries_view import Counts, TableView, view
from services.render import round_half_up

EXTERNAL_PERSON_COLUMNS: Final = ("persons_per_day", "individuals", "cost_per_day",
                                  "forecast_persons_per_day", "forecast_price_sek", "cost_per_day_weighted")
EXTERNAL_VISIBLE: Final = ("line", "target_group", "price_unit", "persons_per_day", "budget_persons_per_day",
                           "individuals", "cost_per_day", "budget_price_sek", "budget_sek",
                           "period_deviation_sek", "forecast_persons_per_day", "forecast_price_sek",
                           "forecast_deviation_sek", "forecast_total_sek", "cost_per_day_weighted")
FORECAST_PERSON_COLUMNS: Final = ("persons_per_day", "run_rate_price_sek", "forecast_persons_per_day",
                                  "forecast_price_sek")
FORECAST_VISIBLE: Final = ("line", "target_group", "persons_per_day", "forecast_persons_per_day",
                           "forecast_price_sek", "forecast_total_sek", "budget_sek", "forecast_deviation_sek",
                           "basis", "reason")


def line_persons(state: bundle.State, period: Period) -> dict[LineKey, int]:
    """Distinct persons per externa-köp line in the period (what a line's small cells rest on)."""
    return {k: f.persons for k, f in care_costs.line_figures(state.care_costs, period).items()}


def group_persons(state: bundle.State, period: Period) -> dict[str, int]:
    cells = care_costs.figures_by(state.care_costs, period, ("group",))
    return {str(key[0]): len(fig.persons) for key, fig in cells.items()}


def row_counts(
    report: Report, state: bundle.State, period: Period, columns: tuple[str, ...]
) -> list[Counts]:
    """Per row: the persons its person-based cells rest on (lines, block subtotals; Totalt unprotected)."""
    lines, groups = line_persons(state, period), group_persons(state, period)
    out: list[Counts] = []
    for row in report.rows:
        n: int | None = None
        if row["row_type"] == "detail" and row.get("category") is not None:
            n = lines.get(LineKey(row["category"], row["target_group"]), 0)  # type: ignore[arg-type]
        elif row["row_type"] == "subtotal":
            n = groups.get(str(row["group"]), 0)
        out.append({key: n for key in columns if key in {c.key for c in report.columns}})
    return out


def external_purchases_table(source: KpiSource, period: Period, *, known_at: datetime | None = None,
                             threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """The externa-köp table for the period, as known now (or at `known_at`), protected."""
    with reading(source):
        state = source.bundle(known_at)
        figures = care_costs.line_figures(state.care_costs, period)
        report = external_purchases_report(figures, state.budget, period, period.end.year)
        counts = row_counts(report, state, period, EXTERNAL_PERSON_COLUMNS)
    return view(report, counts, threshold, EXTERNAL_VISIBLE)


def forecast_report_of(state: bundle.State, period: Period) -> Report:
    figures = care_costs.line_figures(state.care_costs, period)
    return forecast_report(figures, state.budget, period, period.end.year)


def forecast_table_of(state: bundle.State, period: Period, threshold: int) -> TableView:
    report = forecast_report_of(state, period)
    counts = row_counts(report, state, period, FORECAST_PERSON_COLUMNS)
    return view(report, counts, threshold, FORECAST_VISIBLE)


def forecast_table(source: KpiSource, period: Period, *,
                   threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """Helårsprognos per line (forecast persons, price, total, budget, deviation), protected."""
    with reading(source):
        return forecast_table_of(source.bundle(None), period, threshold)


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """The whole-year forecast as it stood with the outcome through `through` (Totalt row, SEK)."""

    through: date
    forecast_total_sek: Decimal | None
    budget_sek: Decimal | None
    deviation_sek: Decimal | None


def _total_row(report: Report) -> dict[str, Value]:
    return next(r for r in report.rows if r["row_type"] == "total")


def _sek(value: Value) -> Decimal | None:
    """Whole kronor, half up (chart values; tables round through their columns)."""
    return round_half_up(Fraction(value), 0) if isinstance(value, int | Fraction | Decimal) else None


def forecast_through_year(source: KpiSource, period: Period) -> list[TrendPoint]:
    """Forecast vs budget through the year: one point per month end from January to the period's end."""
    year = period.end.year
    points: list[TrendPoint] = []
    with reading(source):
        state = source.bundle(None)
        month = Month(year, 1)
        while month.first <= period.end:
            part = Period(date(year, 1, 1), min(month.last, period.end))
            total = _total_row(forecast_report_of(state, part))
            points.append(TrendPoint(part.end, _sek(total["forecast_total_sek"]), _sek(total["budget_sek"]),
                                     _sek(total["forecast_deviation_sek"])))
            month = month.next()
    return points


def cell_text(table: TableView, row_type: str, key: str) -> str:
    """The displayed value of a column in the first row of a type (for tiles and tests)."""
    row = next((r for r in table.rows if r.get("row_type") == row_type), None)
    return "" if row is None else table.display(row, key)

