"""The externa-köp table (Extern vård och behandling per verksamhet), laid out as Örebro's report.

Blocks Barn, Unga, Jourhem, Vuxna in `REPORT_LINES` order (000, 5.3.4): one detail row per line,
a "Summa" subtotal per group (Jourhem is its own line outside the group subtotals), an adjustment
row "Återsökt moms" from the `vat_refund` budget and ledger lines, and "Totalt". Per row: persons
per day (period, budget), cost per day (period, budget), total budget, period deviation, forecast
persons, price, deviation and total. Money in SEK (displayed in mnkr, one decimal), persons and
prices unrounded (displayed as integers). Columns and rules: docs/reports.md (#external-purchases).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Final

from events.reference import BudgetLine
from events.timeutil import Period
from events.vocabulary import CATEGORY_SV, REPORT_GROUP_SV, REPORT_LINES, TARGET_GROUP_SV, report_group
from projections import budget, care_costs, forecast
from projections.forecast import LineForecast
from projections.lines import LineFigures, LineKey
from projections.reports.base import Column, Report, Value, mnkr

BLOCKS: Final = ("children", "youth", "emergency", "adults")
SUMMED: Final = ("persons_per_day", "budget_persons_per_day", "forecast_persons_per_day")
MONEY: Final = ("budget_sek", "period_budget_sek", "period_cost_sek", "period_deviation_sek",
                "forecast_total_sek", "forecast_deviation_sek")
UNIT_SV: Final = {"day": "dygn", "month": "månad"}



COLUMNS: Final = (
    Column("group", "Block", "text"),
    Column("category", "Kategori", "text"),
    Column("target_group", "Målgrupp", "text"),
    Column("line", "Verksamhet", "text"),
    Column("price_unit", "Prisenhet", "text"),
    Column("persons_per_day", "Personer snitt per dygn, utfall perioden", "number"),
    Column("budget_persons_per_day", "Personer snitt per dygn, budget", "number"),
    Column("individuals", "Individer med insats i perioden", "int"),
    Column("cost_per_day", "Kostnad snitt per dygn, utfall perioden", "money"),
    Column("budget_price_sek", "Kostnad snitt per dygn, budget", "money"),
    mnkr("budget_sek", "Total budget"),
    mnkr("period_deviation_sek", "Avvikelse för perioden"),
    Column("forecast_persons_per_day", "Prognos personer snitt per dygn", "number"),
    Column("forecast_price_sek", "Prognos kostnad snitt per dygn", "money"),
    mnkr("forecast_deviation_sek", "Prognos avvikelse mot budget"),
    mnkr("forecast_total_sek", "Prognos total kostnad"),
    mnkr("period_budget_sek", "Periodens budget"),
    mnkr("period_cost_sek", "Periodens utfall"),
    mnkr("budget_volume_sek", "Budget enligt personer × pris"),
    Column("cost_per_day_weighted", "Kostnad per vårddygn, vägt medelvärde", "money"),
    Column("forecast_note", "Prognosjustering", "text"),
    Column("row_type", "Radtyp", "text"),
)


STANDARD: Final = tuple(LineKey(ln.category, ln.target_group) for ln in REPORT_LINES)


def _keys(figures: Mapping[LineKey, LineFigures], block: str) -> list[LineKey]:
    """The block's lines in REPORT_LINES order, then any other line with figures in that block."""
    def here(k: LineKey) -> bool:
        return report_group(k.category, k.target_group) == block
    return [k for k in STANDARD if here(k) and k in figures] + sorted(
        k for k in figures if k not in STANDARD and here(k))


def _detail(
    key: LineKey, fig: LineFigures, fc: LineForecast, state: budget.State, year: int
) -> dict[str, Value]:
    line = BudgetLine(activity=budget.EXTERNAL_CARE, category=key.category, target_group=key.target_group)
    base = budget.line_budget(state, year, line)
    b_persons = None if base is None else base.persons_per_day
    b_price = None if base is None else base.price_sek
    select = budget.external_line(key.category, key.target_group)
    period_budget = budget.period_budget(state, fig.period, select)
    cost_only = fc.unit is None
    return {
        "group": report_group(key.category, key.target_group), "category": key.category,
        "target_group": key.target_group, "line": CATEGORY_SV.get(key.category, key.category),
        "price_unit": None if fc.unit is None else UNIT_SV[fc.unit],
        "persons_per_day": None if cost_only else fig.persons_per_day,
        "budget_persons_per_day": b_persons, "individuals": fig.persons if cost_only else None,
        "cost_per_day": forecast.period_price(fig), "budget_price_sek": b_price,
        "budget_sek": fc.budget_sek, "period_deviation_sek": period_budget - fig.cost_sek,
        "forecast_persons_per_day": fc.persons_per_day, "forecast_price_sek": fc.price_sek,
        "forecast_deviation_sek": fc.deviation_sek, "forecast_total_sek": fc.total_sek,
        "period_budget_sek": period_budget, "period_cost_sek": fig.cost_sek,
        "budget_volume_sek": (None if b_persons is None or b_price is None or fc.unit is None
                              else forecast.annual_amount(b_persons, b_price, fc.unit, year)),
        "cost_per_day_weighted": None, "forecast_note": "; ".join(fc.reasons) or None, "row_type": "detail",
    }


def _sum(rows: Iterable[dict[str, Value]], key: str) -> Fraction | None:
    values = [v for r in rows if isinstance(v := r.get(key), Fraction | int)]
    return sum((Fraction(v) for v in values), Fraction(0)) if values else None


def _summary(rows: list[dict[str, Value]], group: str, label: str, row_type: str) -> dict[str, Value]:
    out: dict[str, Value] = {c.key: None for c in COLUMNS}
    out.update(group=group, line=label, row_type=row_type)
    for key in (*SUMMED, *MONEY):
        out[key] = _sum(rows, key)
    return out


def _adjustment(state: budget.State, period: Period, year: int) -> dict[str, Value]:
    adj = forecast.adjustment_forecast(state, period, year)
    out: dict[str, Value] = {c.key: None for c in COLUMNS}
    out.update(group="all", line="Återsökt moms", budget_sek=adj.budget_sek,
               period_deviation_sek=adj.period_deviation_sek, forecast_total_sek=adj.total_sek,
               forecast_deviation_sek=adj.deviation_sek, period_budget_sek=adj.period_budget_sek,
               period_cost_sek=adj.outcome_sek, row_type="adjustment",
               forecast_note="; ".join(adj.override.reasons) if adj.override is not None else None)
    return out


def _mean(values: Iterable[Value]) -> Fraction | None:
    found = [Fraction(v) for v in values if isinstance(v, Fraction | int)]
    return sum(found, Fraction(0)) / len(found) if found else None


def _total(details: list[dict[str, Value]], summaries: list[dict[str, Value]],
           figures: Mapping[LineKey, LineFigures]) -> dict[str, Value]:
    out = _summary(summaries, "all", "Totalt", "total")
    day_rows = [r for r in details if r["price_unit"] == UNIT_SV["day"]]
    unweighted, weighted = care_costs.headline_cost_per_day(figures.values())
    out.update(price_unit=UNIT_SV["day"], cost_per_day=unweighted, cost_per_day_weighted=weighted,
               budget_price_sek=_mean(r["budget_price_sek"] for r in day_rows),
               forecast_price_sek=_mean(r["forecast_price_sek"] for r in day_rows))
    return out


def external_purchases_report(
    figures: Mapping[LineKey, LineFigures], budget_state: budget.State, period: Period, year: int
) -> Report:
    """The externa-köp table for a period (figures from `care_costs.line_figures`) and forecast year."""
    forecasts = forecast.run_rate(figures, budget_state, year)
    rows: list[dict[str, Value]] = []
    details: list[dict[str, Value]] = []
    summaries: list[dict[str, Value]] = []  # group subtotals, Jourhem and the adjustment: they make the total
    for block in BLOCKS:
        block_rows = [_detail(k, figures[k], forecasts[k], budget_state, year) for k in _keys(figures, block)]
        rows.extend(block_rows)
        details.extend(block_rows)
        if block == "emergency":
            summaries.extend(block_rows)
        elif block_rows:
            subtotal = _summary(block_rows, block, f"Summa {REPORT_GROUP_SV[block]}", "subtotal")
            rows.append(subtotal)
            summaries.append(subtotal)
    vat = _adjustment(budget_state, period, year)
    rows.append(vat)
    summaries.append(vat)
    rows.append(_total(details, summaries, figures))
    notes = [f"Prognosjustering {TARGET_GROUP_SV[k.target_group]} {CATEGORY_SV.get(k.category, k.category)}: "
             f"{'; '.join(fc.reasons)}" for k, fc in forecasts.items() if fc.override is not None]
    if vat["forecast_note"]:
        notes.append(f"Prognosjustering Återsökt moms: {vat['forecast_note']}")
    return Report("external-purchases", f"Extern vård och behandling per verksamhet {period}, prognos {year}",
                  COLUMNS, rows, notes)
