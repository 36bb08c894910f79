"""The forecast report (Helårsprognos externa köp): how each line's forecast is made.

One detail row per externa-köp line (`REPORT_LINES` order, then any other line with figures), the
adjustment row (återsökt moms) and a total row. Per line: the period's persons and price, the run
rate before overrides, the forecast persons, price and total after any prognosjustering with its
reason, the override's effect, the annual budget and the forecast deviation, and the other variant
"utfall hittills + resten av året i takt" beside it (BRIEF §3.4). Columns: docs/reports.md (#forecast).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Final

from events.timeutil import Period
from events.vocabulary import CATEGORY_SV, REPORT_GROUP_SV, report_group
from projections import budget, forecast
from projections.forecast import AdjustmentForecast, LineForecast
from projections.lines import LineFigures, LineKey
from projections.reports.base import Column, Report, Value, mnkr
from projections.reports.external_purchases import BLOCKS, STANDARD

BASIS_SV: Final = {"run_rate": "Takt perioden", "outcome_run_rate": "Utfall i takt", "override": "Justerad"}



COLUMNS: Final = (
    Column("group", "Block", "text"),
    Column("category", "Kategori", "text"),
    Column("target_group", "Målgrupp", "text"),
    Column("line", "Verksamhet", "text"),
    Column("price_unit", "Prisenhet", "text"),
    Column("persons_per_day", "Personer snitt per dygn, perioden", "number"),
    Column("run_rate_price_sek", "Pris i takt", "money"),
    mnkr("run_rate_total_sek", "Prognos i takt"),
    Column("forecast_persons_per_day", "Prognos personer", "number"),
    Column("forecast_price_sek", "Prognos pris", "money"),
    mnkr("forecast_total_sek", "Prognos total kostnad"),
    mnkr("override_effect_sek", "Effekt av prognosjustering"),
    Column("basis", "Underlag", "text"),
    Column("reason", "Skäl till justering", "text"),
    mnkr("budget_sek", "Budget helår"),
    mnkr("forecast_deviation_sek", "Prognosavvikelse budget − prognos"),
    mnkr("year_to_date_plus_rest_sek", "Utfall hittills + resten av året i takt"),
    Column("row_type", "Radtyp", "text"),
)
UNIT_SV: Final = {"day": "dygn", "month": "månad"}


def _line(fig: LineFigures, fc: LineForecast, year: int) -> dict[str, Value]:
    key = fig.key
    return {
        "group": report_group(key.category, key.target_group), "category": key.category,
        "target_group": key.target_group, "line": CATEGORY_SV.get(key.category, key.category),
        "price_unit": None if fc.unit is None else UNIT_SV[fc.unit],
        "persons_per_day": None if fc.unit is None else fig.persons_per_day,
        "run_rate_price_sek": fc.run_rate_price_sek, "run_rate_total_sek": fc.run_rate_total_sek,
        "forecast_persons_per_day": fc.persons_per_day, "forecast_price_sek": fc.price_sek,
        "forecast_total_sek": fc.total_sek, "override_effect_sek": fc.override_effect_sek,
        "basis": BASIS_SV[fc.basis], "reason": "; ".join(fc.reasons) or None, "budget_sek": fc.budget_sek,
        "forecast_deviation_sek": fc.deviation_sek,
        "year_to_date_plus_rest_sek": forecast.year_to_date_plus_rest(fig, fc, year), "row_type": "detail",
    }


def _adjustment(adj: AdjustmentForecast, period: Period, year: int) -> dict[str, Value]:
    run = adj.outcome_sek * Period.year(year).days / period.days
    row: dict[str, Value] = {c.key: None for c in COLUMNS}
    row.update(group="all", line="Återsökt moms", run_rate_total_sek=run, forecast_total_sek=adj.total_sek,
               override_effect_sek=adj.total_sek - run, basis=BASIS_SV[adj.basis],
               reason=None if adj.override is None else "; ".join(adj.override.reasons),
               budget_sek=adj.budget_sek, forecast_deviation_sek=adj.deviation_sek, row_type="adjustment")
    return row


def _total(rows: list[dict[str, Value]]) -> dict[str, Value]:
    row: dict[str, Value] = {c.key: None for c in COLUMNS}
    row.update(group="all", line="Totalt", row_type="total")
    for key in ("run_rate_total_sek", "forecast_total_sek", "override_effect_sek", "budget_sek",
                "forecast_deviation_sek"):
        row[key] = sum((Fraction(v) for r in rows if isinstance(v := r[key], Fraction | int)), Fraction(0))
    for key in ("persons_per_day", "forecast_persons_per_day"):
        row[key] = sum((Fraction(v) for r in rows if isinstance(v := r[key], Fraction | int)), Fraction(0))
    return row


def forecast_report(
    figures: Mapping[LineKey, LineFigures], budget_state: budget.State, period: Period, year: int
) -> Report:
    """How each externa-köp line's full-year forecast is made, with overrides and their reasons."""
    forecasts = forecast.run_rate(figures, budget_state, year)
    ordered = [k for k in STANDARD if k in figures] + sorted(k for k in figures if k not in STANDARD)
    ordered.sort(key=lambda k: BLOCKS.index(report_group(k.category, k.target_group)))  # stable: blocks first
    rows = [_line(figures[k], forecasts[k], year) for k in ordered]
    rows.append(_adjustment(forecast.adjustment_forecast(budget_state, period, year), period, year))
    rows.append(_total(rows))
    notes = [f"Prognosjustering {REPORT_GROUP_SV.get(str(r['group']), 'Alla')} {r['line']}: {r['reason']}"
             for r in rows if r["reason"]]
    return Report("forecast", f"Helårsprognos {year} externa köp (underlag {period})", COLUMNS, rows, notes)
