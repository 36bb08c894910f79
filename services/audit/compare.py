"""Compare two sets of report rows figure by figure (used by verify and diff).

A row is identified by its text columns (block, kategori, målgrupp, enhet, månad, radtyp ...), not by
its place in the table, so a line that appears or disappears shows as one added or removed row
instead of shifting every row after it. Values are compared exactly (canonical rows, `digest`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from projections.reports.base import Column

ROW = "(rad)"  # the column named when a whole row was added or removed
_FRACTION = re.compile(r"^-?\d+/\d+$")


@dataclass(frozen=True, slots=True)
class Change:
    row: str  # the row's label: its text columns joined
    key: tuple[Any, ...]
    column: str
    before: Any
    after: Any


def key_columns(columns: Sequence[Column]) -> list[str]:
    return [c.key for c in columns if c.kind == "text" and "note" not in c.key]


Keyed = dict[tuple[Any, ...], Mapping[str, Any]]


def _keyed(rows: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> Keyed:
    out: Keyed = {}
    for row in rows:
        key = tuple(row.get(k) for k in keys)
        n = 1
        while key + ((n,) if n > 1 else ()) in out:
            n += 1
        out[key + ((n,) if n > 1 else ())] = row
    return out


def label(key: tuple[Any, ...]) -> str:
    return " / ".join(str(v) for v in key if v not in (None, "")) or "(utan etikett)"


def changes(columns: Sequence[Column], before: Sequence[Mapping[str, Any]],
            after: Sequence[Mapping[str, Any]]) -> list[Change]:
    """Every figure that differs between two canonical row lists, in table order."""
    keys = key_columns(columns)
    a, b = _keyed(before, keys), _keyed(after, keys)
    order = list(a) + [k for k in b if k not in a]
    names = [c.key for c in columns]
    out: list[Change] = []
    for key in order:
        if key not in a or key not in b:
            was, now = ("finns" if key in a else None), ("finns" if key in b else None)
            out.append(Change(label(key), key, ROW, was, now))
            continue
        extra = sorted((set(a[key]) | set(b[key])) - set(names))
        for col in names + extra:
            if a[key].get(col) != b[key].get(col):
                out.append(Change(label(key), key, col, a[key].get(col), b[key].get(col)))
    return out


def shown(value: Any) -> str:
    """A canonical value for people: fractions as decimals (4 places), None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, str) and _FRACTION.match(value):
        f = Fraction(value)
        return str((Decimal(f.numerator) / Decimal(f.denominator)).quantize(Decimal("0.0001")))
    return str(value)
