"""The shape every report shares: typed columns and rows of plain values (CONVENTIONS §4).

Rows hold unrounded numbers (Fraction/Decimal/int), money in SEK, percentages as percent (97.9),
and `row_type` = detail | subtotal | total | adjustment. Rounding happens only at display
(services render table/csv with half-up rounding per column; json keeps full precision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnKind = Literal["text", "int", "number", "percent", "money", "date", "bool"]
RowType = Literal["detail", "subtotal", "total", "adjustment"]
Value = object  # str | int | Fraction | Decimal | date | bool | None

# Display units for money columns: SEK, thousands (tkr) or millions (mnkr).
MoneyUnit = Literal["sek", "tkr", "mnkr"]


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # snake_case, the JSON key
    label_sv: str  # the report's own Swedish heading
    kind: ColumnKind = "number"
    decimals: int = 0  # display decimals (after unit scaling)
    unit: MoneyUnit = "sek"  # display unit of money columns


def mnkr(key: str, label_sv: str) -> Column:
    """A money column shown in millions of kronor with one decimal, as the reports print mnkr."""
    return Column(key, label_sv, "money", decimals=1, unit="mnkr")


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    title_sv: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Value]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # flags and explanations (e.g. "must flag" checks)

    def column(self, key: str) -> Column:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)
