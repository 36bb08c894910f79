"""Small economy indicators and the sign conventions of the reports, rendered by explicit functions.

Inside the platform money is SEK with **costs positive** and income negative (CONVENTIONS §3–4);
deviation = budget − outcome, positive = överskott. The reports print other conventions, and each
is rendered here by a named function at the edge (BRIEF §3.3):

* **Nettotabeller med negativa kostnader** (Örebro 000, 5.1): amounts are printed negated
  (`costs_negative`); *periodens avvikelse* = nettoutfall − budget, *prognosavvikelse* = prognos −
  budget (R16: Myndighet −69.3 − (−72.6) = +3.3). The deviation's sign is the same as budget −
  outcome on costs-positive amounts; only the amounts flip.
* **Kontogruppstabellen** (5.2, costs negative): income rows show prognos − budget; cost rows show
  the literal budget − prognos, which is **positive for an overspend**; the net row is income
  deviation − cost deviation (R18: 3.7 − 18.9 = −15.2), and netto = intäkter + kostnader.
* **Nettokostnadsökning** (net cost increase) = this year's net cost − last year's, and in percent.

Indicators:

* **Alternativkostnad** (alternative-cost effect): days handled internally × (the external price −
  the internal price) (R31: 621 × (2 300 − 650) ≈ 1.0 mnkr).
* **Statlig ersättning EKB**: compensation per person and year = rate per day × days (R23: 750 kr ×
  365 = 273.75 tkr).
* **Implicita personer** (implied persons per day) from a budget and its period deviation: (annual
  budget × period share − period deviation) ÷ (price × days in the period) (R13: 17.7).
* **Förbrukning** (consumption) = outcome ÷ period budget, in percent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

Amount = Fraction | Decimal | int


def _f(value: Amount) -> Fraction:
    return Fraction(value)


# --- sign conventions ---------------------------------------------------------------------------

def deviation(budget_sek: Amount, outcome_sek: Amount) -> Fraction:
    """Avvikelse, costs positive: budget − outcome (positive = surplus)."""
    return _f(budget_sek) - _f(outcome_sek)


def costs_negative(amount_sek: Amount) -> Fraction:
    """A costs-positive amount as a costs-negative table prints it (net cost −393.7, income +)."""
    return -_f(amount_sek)


def deviation_costs_negative(outcome_cn: Amount, budget_cn: Amount) -> Fraction:
    """Periodens avvikelse in a costs-negative net table: nettoutfall − budget (R16)."""
    return _f(outcome_cn) - _f(budget_cn)


def forecast_deviation_costs_negative(forecast_cn: Amount, budget_cn: Amount) -> Fraction:
    """Prognosavvikelse in a costs-negative net table: prognos − budget (R16: −597.4 − (−582.2))."""
    return _f(forecast_cn) - _f(budget_cn)


def net(income_cn: Amount, costs_cn: Amount) -> Fraction:
    """Netto in a costs-negative table = intäkter + kostnader (R18: 35.8 + (−633.2) = −597.4)."""
    return _f(income_cn) + _f(costs_cn)


def income_row_deviation(budget_cn: Amount, forecast_cn: Amount) -> Fraction:
    """Account-group table, income row: prognos − budget (positive = more income)."""
    return _f(forecast_cn) - _f(budget_cn)


def cost_row_deviation(budget_cn: Amount, forecast_cn: Amount) -> Fraction:
    """Account-group table, cost row: the literal budget − prognos, positive for an overspend."""
    return _f(budget_cn) - _f(forecast_cn)


def net_row_deviation(income_deviation: Amount, cost_deviation: Amount) -> Fraction:
    """Account-group table, net row: income deviation − cost deviation (R18: 3.7 − 18.9 = −15.2)."""
    return _f(income_deviation) - _f(cost_deviation)


@dataclass(frozen=True, slots=True)
class Change:
    amount: Fraction
    percent: Fraction | None


def net_cost_change(previous_net_cn: Amount, current_net_cn: Amount) -> Change:
    """Nettokostnadsökning: the rise of the net cost (a costs-negative net, so −current − −previous)."""
    previous, current = -_f(previous_net_cn), -_f(current_net_cn)
    rise = current - previous
    return Change(rise, None if previous == 0 else rise * 100 / previous)


def sum_deviations(deviations: Iterable[Amount]) -> Fraction:
    """Deviations of parts add up to the whole's deviation (R25: own operations + EKB + external)."""
    return sum((_f(d) for d in deviations), Fraction(0))


# --- indicators ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AlternativeCost:
    """Alternativkostnad: what the days would have cost externally against what they cost inside."""

    days: int
    internal_cost_sek: Fraction
    external_cost_sek: Fraction

    @property
    def saving_sek(self) -> Fraction:
        return self.external_cost_sek - self.internal_cost_sek


def alternative_cost(days: int, external_price_sek: Amount, internal_price_sek: Amount) -> AlternativeCost:
    return AlternativeCost(days, days * _f(internal_price_sek), days * _f(external_price_sek))


def ekb_compensation(rate_per_day_sek: Amount, days: int) -> Fraction:
    """Statlig ersättning per person: the daily rate × the days (a year: 365 or 366)."""
    return _f(rate_per_day_sek) * days


def implied_persons(
    annual_budget_sek: Amount, period_share: Amount, period_deviation_sek: Amount, price_sek: Amount,
    days: int,
) -> Fraction:
    """Persons per day implied by a line's budget, its period deviation and its price (R13).

    Period cost = annual budget × period share − period deviation; persons = cost ÷ (price × days).
    """
    cost = _f(annual_budget_sek) * _f(period_share) - _f(period_deviation_sek)
    return cost / (_f(price_sek) * days)


def consumption_pct(outcome_sek: Amount, period_budget_sek: Amount) -> Fraction | None:
    """Förbrukning = utfall ÷ periodens budget, percent (None for a zero budget)."""
    return None if _f(period_budget_sek) == 0 else _f(outcome_sek) * 100 / _f(period_budget_sek)
