"""Reference facts of the history: budgets (budget.set) of the externa-köp lines, återsökt moms.

Each year's budget is adopted in November of the year before (`occurred_at`, registered the same
day): per line the annual amount in SEK with a linear profile, the budgeted persons per day and
price (budgetvolym), plus the återsökt moms line (income, negative). Years other than the
calibration year are scaled by the assumed yearly budget growth. Återsökt moms (VAT refund, income)
is posted monthly as `ledger.posted` on the last day of each month, registered about ten days later.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.simulator.calibration import ExternalLine
from services.simulator.core import Context, at

EXTERNAL_CARE = "external_care"
VAT_REFUND = "vat_refund"


def _line_budget(ctx: Context, year: int, factor: float, line: ExternalLine) -> dict[str, Any]:
    data: dict[str, Any] = {
        "year": year, "line": {"activity": EXTERNAL_CARE, "category": line.category,
                               "target_group": line.target_group},
        "amount_sek": round(line.budget_sek * factor * ctx.scale), "profile": "linear"}
    if line.budget_persons_per_day is not None and line.budget_price_sek is not None:
        data["persons_per_day"] = round(line.budget_persons_per_day * ctx.scale, 2)
        data["price_sek"] = round(line.budget_price_sek * factor)
    return data


def budgets(ctx: Context) -> None:
    """budget.set for every line and every year of the history."""
    growth = float(ctx.a("budget_growth_per_year"))
    for year in range(ctx.start.year, ctx.stop.year + (0 if ctx.stop == date(ctx.stop.year, 1, 1) else 1)):
        factor = (1 + growth) ** (year - ctx.cal.year)
        adopted = date(year - 1, 11, 23)
        recorded = at(adopted, 15 * 60)
        stream = f"budget:{year}"
        for line in ctx.cal.lines:
            data = _line_budget(ctx, year, factor, line)
            ctx.emit("budget.set", stream, adopted, data, recorded)
        vat = {"year": year, "line": {"activity": EXTERNAL_CARE, "account_group": VAT_REFUND},
               "amount_sek": round(ctx.cal.vat_refund_budget_sek * factor * ctx.scale), "profile": "linear"}
        ctx.emit("budget.set", stream, adopted, vat, recorded)


def vat_postings(ctx: Context) -> None:
    """ledger.posted of the återsökt moms line for every month of the history."""
    line = {"activity": EXTERNAL_CARE, "account_group": VAT_REFUND}
    month = date(ctx.start.year, ctx.start.month, 1)
    while month < ctx.stop:
        following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        factor = (1 + float(ctx.a("budget_growth_per_year"))) ** (month.year - ctx.cal.year)
        amount = round(ctx.cal.vat_refund_outcome_sek / 12 * factor * ctx.scale)
        last = following - timedelta(days=1)
        ctx.emit("ledger.posted", f"ledger:{month.year}", last, {
            "year": month.year, "month": month.month, "line": line, "amount_sek": amount},
            at(last + timedelta(days=ctx.rng.randint(5, 15)), 10 * 60))
        month = following
