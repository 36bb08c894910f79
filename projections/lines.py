"""Per-line figures of the externa-köp table, shared by care_costs (producer) and forecast (consumer).

A line is a (category, target group) pair; `LineFigures` are its period figures:
vårddygn (care days), kostnad (cost, SEK, exact), personer snitt per dygn (persons per day) and
kostnad snitt per dygn (cost per care day).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from events.timeutil import Period
from events.vocabulary import Category, PriceUnit, TargetGroup


@dataclass(frozen=True, slots=True, order=True)
class LineKey:
    category: Category
    target_group: TargetGroup

    def __str__(self) -> str:
        return f"{self.category}/{self.target_group}"


@dataclass(frozen=True, slots=True)
class LineFigures:
    """A line's figures over a business period (money exact as Fraction of SEK)."""

    key: LineKey
    period: Period
    care_days: int
    cost_sek: Fraction
    persons: int  # distinct persons with at least one care day in the period
    latest_price_sek: Decimal | None = None  # price in effect on the last covered day (monthly lines)
    latest_price_unit: PriceUnit | None = None

    @property
    def persons_per_day(self) -> Fraction:
        """Personer snitt per dygn = vårddygn ÷ dagar i perioden."""
        return Fraction(self.care_days, self.period.days)

    @property
    def cost_per_day(self) -> Fraction | None:
        """Kostnad snitt per dygn = periodens kostnad ÷ vårddygn (None without care days)."""
        return None if self.care_days == 0 else self.cost_sek / self.care_days
