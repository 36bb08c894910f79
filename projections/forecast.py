"""Run-rate forecast (helårsprognos) of the externa-köp lines, and its deviation from budget.

KPIs, in the municipality's own terms (BRIEF §3.2, §3.4, §4; CONVENTIONS §1, §3):

* **Prognos personer** (forecast persons per day) = the period's personer snitt per dygn.
* **Prognos kostnad** (forecast price): for day-priced lines the period's kostnad snitt per dygn;
  for monthly-priced lines (internal family homes, contracted jourhem) the latest monthly price
  (else the period's cost per person-month, else the budget price).
* A **prognosjustering** (`forecast.adjusted`) for (year, category, target group) overrides persons,
  price and/or the total; the override and its reason travel with the result.
* **Prognos total kostnad** = persons × price × days in the year (365 or 366) for day-priced lines,
  × 12 for monthly-priced lines. It is an annualised run rate, not year-to-date + remaining months
  (BRIEF §3.4: internal FH Barn 76 × 30 000 × 12 = 27.4 mnkr).
* **Cost-only lines** (kontaktperson/-familj, övrig öppenvård: no persons per day, no price) are
  forecast at their outcome run rate: the period's cost × days in the year ÷ days in the period.
  This reproduces Örebro's 2021 rows (Barn kontaktperson 2.17 mnkr in 243 days → 3.2 mnkr).
* **Justeringsrader** (adjustment rows without persons, e.g. återsökt moms, account group
  `vat_refund`): outcome run rate of their ledger lines, unless an override gives the total.
* **Prognosavvikelse** (forecast deviation) = annual budget − forecast total (negative = overspend).
* **Budget enligt volym** = budget persons × budget price × days in the year (or × 12) (R10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from events.reference import BudgetLine
from events.timeutil import Period, days_in_year
from events.vocabulary import COST_ONLY, MONTHLY_PRICED, PriceUnit
from projections import budget
from projections.budget import EXTERNAL_CARE, VAT_REFUND, Override
from projections.lines import LineFigures, LineKey

Basis = Literal["run_rate", "outcome_run_rate", "override"]


def year_factor(unit: PriceUnit, year: int) -> int:
    """Days in the year for a day price, 12 for a monthly price."""
    return days_in_year(year) if unit == "day" else 12


def annual_amount(
    persons: Fraction | Decimal | int, price: Fraction | Decimal | int, unit: PriceUnit, year: int
) -> Fraction:
    """Persons per day × price × days in the year (day price) or × 12 (monthly price)."""
    return Fraction(persons) * Fraction(price) * year_factor(unit, year)


def period_months(period: Period) -> Fraction:
    """The period in months: each month counts its covered days ÷ its days (Jan–Aug = 8)."""
    return sum((Fraction(period.month_part(m).days, m.days) for m in period.months()), Fraction(0))


def price_unit(key: LineKey) -> PriceUnit | None:
    if key.category in COST_ONLY:
        return None
    return "month" if key.category in MONTHLY_PRICED else "day"


def period_price(fig: LineFigures) -> Fraction | None:
    """Kostnad snitt per dygn (day-priced) or per person-month (monthly-priced); None without days."""
    unit = price_unit(fig.key)
    if unit is None or fig.care_days == 0:
        return None
    if unit == "day":
        return fig.cost_per_day
    return fig.cost_sek / (fig.persons_per_day * period_months(fig.period))


@dataclass(frozen=True, slots=True)
class LineForecast:
    """A line's forecast; `run_rate_*` are the values before any override (equal without one)."""

    key: LineKey
    unit: PriceUnit | None
    persons_per_day: Fraction | None
    price_sek: Fraction | None
    total_sek: Fraction
    budget_sek: Fraction
    basis: Basis
    run_rate_total_sek: Fraction
    run_rate_price_sek: Fraction | None = None
    override: Override | None = None

    @property
    def deviation_sek(self) -> Fraction:
        """Prognosavvikelse = budget − prognos (positive = surplus)."""
        return self.budget_sek - self.total_sek

    @property
    def override_effect_sek(self) -> Fraction:
        """How much the override moved the total (0 without one)."""
        return self.total_sek - self.run_rate_total_sek

    @property
    def reasons(self) -> tuple[str, ...]:
        return () if self.override is None else self.override.reasons


def _price(fig: LineFigures, unit: PriceUnit, base: budget.LineBudget | None) -> Fraction | None:
    if unit == "month" and fig.latest_price_sek is not None and fig.latest_price_unit == "month":
        return Fraction(fig.latest_price_sek)
    actual = period_price(fig)
    if actual is not None:
        return actual
    return None if base is None else base.price_sek


def _total(persons: Fraction, price: Fraction | None, unit: PriceUnit, year: int) -> Fraction:
    return Fraction(0) if price is None else annual_amount(persons, price, unit, year)


def line_forecast(fig: LineFigures, budget_state: budget.State, year: int) -> LineForecast:
    """The run-rate forecast of one line, with its override (if any) applied."""
    key, unit = fig.key, price_unit(fig.key)
    annual = budget.annual_budget(budget_state, year, budget.external_line(key.category, key.target_group))
    adj = budget.override(budget_state, year, key.category, key.target_group)
    if unit is None:  # cost only: persons and price overrides do not apply, a total does
        run = fig.cost_sek * days_in_year(year) / fig.period.days
        if adj is not None and adj.total_sek is not None:
            return LineForecast(key, None, None, None, adj.total_sek, annual, "override", run, None, adj)
        return LineForecast(key, None, None, None, run, annual, "outcome_run_rate", run)
    line = BudgetLine(activity=EXTERNAL_CARE, category=key.category, target_group=key.target_group)
    run_price = _price(fig, unit, budget.line_budget(budget_state, year, line))
    run_total = _total(fig.persons_per_day, run_price, unit, year)
    if adj is None:
        return LineForecast(key, unit, fig.persons_per_day, run_price, run_total, annual, "run_rate",
                            run_total, run_price)
    persons = fig.persons_per_day if adj.persons_per_day is None else adj.persons_per_day
    price = run_price if adj.price_sek is None else adj.price_sek
    total = _total(persons, price, unit, year) if adj.total_sek is None else adj.total_sek
    return LineForecast(key, unit, persons, price, total, annual, "override", run_total, run_price, adj)


def year_to_date_plus_rest(fig: LineFigures, fc: LineForecast, year: int) -> Fraction | None:
    """The other variant (BRIEF §3.4): the period's cost + the forecast rate over the rest of the year.

    Only for a period from 1 January within the year (None otherwise). The rest is counted in days
    (day-priced and cost-only lines) or in months (monthly-priced lines).
    """
    whole = Period.year(year)
    if fig.period.start != whole.start or fig.period.end >= whole.end:
        return None
    rest = Period(fig.period.stop, whole.end)
    share = period_months(rest) / 12 if fc.unit == "month" else Fraction(rest.days, whole.days)
    return fig.cost_sek + fc.total_sek * share


def run_rate(
    figures: Mapping[LineKey, LineFigures], budget_state: budget.State, year: int
) -> dict[LineKey, LineForecast]:
    """The forecast of every line of the figures, in their order."""
    return {key: line_forecast(fig, budget_state, year) for key, fig in figures.items()}


@dataclass(frozen=True, slots=True)
class AdjustmentForecast:
    """A row without persons or price (återsökt moms): budget, period outcome and forecast."""

    account_group: str
    budget_sek: Fraction
    period_budget_sek: Fraction
    outcome_sek: Fraction
    total_sek: Fraction
    basis: Basis
    override: Override | None = None

    @property
    def period_deviation_sek(self) -> Fraction:
        return self.period_budget_sek - self.outcome_sek

    @property
    def deviation_sek(self) -> Fraction:
        return self.budget_sek - self.total_sek


def adjustment_forecast(
    budget_state: budget.State, period: Period, year: int, account_group: str = VAT_REFUND,
    activity: str = EXTERNAL_CARE,
) -> AdjustmentForecast:
    """The forecast of an account-group row: its outcome run rate, or the override's total."""
    select = budget.where(activity=activity, account_group=account_group)
    spent = budget.outcome(budget_state, period, select)
    adj = budget.override(budget_state, year, account_group=account_group)
    total = spent * days_in_year(year) / period.days
    basis: Basis = "outcome_run_rate"
    if adj is not None and adj.total_sek is not None:
        total, basis = adj.total_sek, "override"
    return AdjustmentForecast(account_group, budget.annual_budget(budget_state, year, select),
                              budget.period_budget(budget_state, period, select), spent, total, basis, adj)
