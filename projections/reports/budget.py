"""The budget report (Budget och utfall per verksamhet): annual and period budget, outcome, deviation.

One detail row per line of the year (budgeted or posted), grouped by activity (verksamhet), a
subtotal per activity with more than one line, and a total over every activity. Amounts in SEK,
costs positive (deviation = budget − utfall, positive = överskott); the costs-negative rendering of
Örebro's net tables (nettoutfall − budget) is given beside it. The stated total line (activity
`total`) is not a row: the summakontroll against it and every budget revision with its reason are
in the notes. Columns: docs/reports.md (#budget).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Final

from events.reference import BudgetLine
from events.timeutil import Period
from events.vocabulary import CATEGORY_SV, TARGET_GROUP_SV
from projections import budget, budget_checks, economy
from projections.reports.base import Column, Report, Value, mnkr

ACTIVITY_SV: Final[dict[str, str]] = {
    "board": "Övergripande & nämnd", "prevention": "Förebyggande & familjecentraler",
    "authority": "Myndighet", "own_operations": "Eget utförande", "ekb": "Ensamkommande barn och unga",
    "external_care": "Externa vård- och behandlingskostnader", "total": "Summa rambudget",
}
ACCOUNT_GROUP_SV: Final[dict[str, str]] = {"vat_refund": "Återsökt moms", "income": "Intäkter",
                                           "staff": "Personalkostnader", "premises": "Lokalkostnader"}



COLUMNS: Final = (
    Column("activity", "Verksamhet (kod)", "text"),
    Column("category", "Kategori", "text"),
    Column("target_group", "Målgrupp", "text"),
    Column("account_group", "Kontogrupp", "text"),
    Column("line", "Rad", "text"),
    mnkr("budget_sek", "Budget helår"),
    mnkr("revisions_sek", "Varav budgetjusteringar"),
    mnkr("period_budget_sek", "Periodens budget"),
    mnkr("outcome_sek", "Periodens utfall"),
    mnkr("deviation_sek", "Avvikelse budget − utfall"),
    Column("consumption_pct", "Förbrukning", "percent"),
    mnkr("net_outcome_costs_negative", "Nettoutfall (kostnader negativa)"),
    mnkr("net_budget_costs_negative", "Periodens budget (kostnader negativa)"),
    mnkr("deviation_costs_negative", "Avvikelse utfall − budget (kostnader negativa)"),
    Column("row_type", "Radtyp", "text"),
)


def line_label(line: BudgetLine) -> str:
    parts = [ACTIVITY_SV.get(line.activity, line.activity)]
    if line.category is not None:
        parts.append(CATEGORY_SV.get(line.category, line.category))
    if line.target_group is not None:
        parts.append(TARGET_GROUP_SV[line.target_group])
    if line.account_group is not None:
        parts.append(ACCOUNT_GROUP_SV.get(line.account_group, line.account_group))
    return ", ".join(parts)


def _money(budget_sek: Fraction, revisions: Fraction | None, period_budget: Fraction,
           spent: Fraction) -> dict[str, Value]:
    return {
        "budget_sek": budget_sek, "revisions_sek": revisions, "period_budget_sek": period_budget,
        "outcome_sek": spent, "deviation_sek": economy.deviation(period_budget, spent),
        "consumption_pct": economy.consumption_pct(spent, period_budget),
        "net_outcome_costs_negative": economy.costs_negative(spent),
        "net_budget_costs_negative": economy.costs_negative(period_budget),
        "deviation_costs_negative": economy.deviation_costs_negative(economy.costs_negative(spent),
                                                                     economy.costs_negative(period_budget)),
    }


def _line_row(state: budget.State, period: Period, year: int, line: BudgetLine) -> dict[str, Value]:
    b = budget.line_budget(state, year, line)
    select = budget.where(activity=line.activity, category=line.category, target_group=line.target_group,
                          account_group=line.account_group)
    revisions = None if b is None else sum((r.change for r in b.revisions), Fraction(0))
    row: dict[str, Value] = {"activity": line.activity, "category": line.category,
                             "target_group": line.target_group, "account_group": line.account_group,
                             "line": line_label(line), "row_type": "detail"}
    annual = Fraction(0) if b is None else b.amount
    row.update(_money(annual, revisions, budget.period_budget(state, period, select),
                      budget.outcome(state, period, select)))
    return row


def _sum_row(
    parts: Iterable[dict[str, Value]], activity: str | None, label: str, row_type: str
) -> dict[str, Value]:
    rows = list(parts)

    def total(key: str) -> Fraction:
        return sum((Fraction(v) for r in rows if isinstance(v := r[key], Fraction | int)), Fraction(0))
    row: dict[str, Value] = {"activity": activity, "category": None, "target_group": None,
                             "account_group": None, "line": label, "row_type": row_type}
    row.update(_money(total("budget_sek"), total("revisions_sek"), total("period_budget_sek"),
                      total("outcome_sek")))
    return row


def kr(amount: Fraction) -> str:
    """Whole kronor, rounded half up, with a sign (notes only; table cells stay unrounded)."""
    exact = Decimal(amount.numerator) / Decimal(amount.denominator)
    return f"{exact.quantize(Decimal(1), rounding=ROUND_HALF_UP):+} kr"


def _notes(state: budget.State, year: int) -> list[str]:
    notes: list[str] = []
    for line, b in budget.budgets(state, year).items():
        notes.extend(f"Budgetjustering {line_label(line)}: {kr(r.change)} — {r.reason}" for r in b.revisions)
    check = budget_checks.check_total(state, year)
    if check.stated_total is not None and check.difference is not None:
        verdict = "AVVIKER" if check.flagged else "stämmer"
        notes.append(f"Summakontroll {year}: verksamheterna {kr(check.sum_of_activities)}, angiven total "
                     f"{kr(check.stated_total)}, skillnad {kr(check.difference)} — {verdict}.")
    return notes


def budget_report(state: budget.State, period: Period, year: int) -> Report:
    """Budget, period budget, outcome and deviation per line of the year, by activity."""
    lines = sorted(budget.budgets(state, year).keys() | budget.posted_lines(state, year), key=BudgetLine.key)
    rows: list[dict[str, Value]] = []
    details: list[dict[str, Value]] = []
    for activity in sorted({ln.activity for ln in lines if ln.activity != budget.TOTAL}):
        mine = [_line_row(state, period, year, ln) for ln in lines if ln.activity == activity]
        rows.extend(mine)
        details.extend(mine)
        if len(mine) > 1:
            rows.append(_sum_row(mine, activity, f"Summa {ACTIVITY_SV.get(activity, activity)}", "subtotal"))
    rows.append(_sum_row(details, None, "Totalt", "total"))
    title = f"Budget och utfall {period} (budgetår {year})"
    return Report("budget", title, COLUMNS, rows, _notes(state, year))
