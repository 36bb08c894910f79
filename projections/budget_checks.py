"""Summakontroll of a budget year: do the activity lines sum to the stated total line?

The check R30 needs: 002's 2024 activity budgets sum to −666 mnkr while the stated total is −663, a
difference the report does not explain and the engine must flag (BRIEF §3.8 row 12).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from projections.budget import TOTAL, State, budgets


@dataclass(frozen=True, slots=True)
class TotalCheck:
    """Summakontroll: the activity lines of a year against the stated total line."""

    year: int
    stated_total: Fraction | None
    by_activity: dict[str, Fraction]
    tolerance: Fraction

    @property
    def sum_of_activities(self) -> Fraction:
        return sum(self.by_activity.values(), Fraction(0))

    @property
    def difference(self) -> Fraction | None:
        """Σ activities − stated total (None without a stated total)."""
        return None if self.stated_total is None else self.sum_of_activities - self.stated_total

    @property
    def flagged(self) -> bool:
        return self.difference is not None and abs(self.difference) > self.tolerance


def check_total(state: State, year: int, tolerance: Fraction | int = 0) -> TotalCheck:
    """Do the year's activity lines sum to the stated total (the line(s) with activity `total`)?"""
    by_activity: dict[str, Fraction] = {}
    stated: Fraction | None = None
    for line, b in budgets(state, year).items():
        if line.activity == TOTAL:
            stated = (stated or Fraction(0)) + b.amount
        else:
            by_activity[line.activity] = by_activity.get(line.activity, Fraction(0)) + b.amount
    return TotalCheck(year, stated, by_activity, Fraction(tolerance))
