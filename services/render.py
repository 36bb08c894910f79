"""Render a `Report` as a table (rich), CSV or JSON (CONVENTIONS §4).

JSON is an array of row objects with every column's snake_case key (in column order, null when a row
has no value), unrounded numbers (exact integers stay integers; fractions become the nearest double),
money in SEK and percentages as percent. Table and CSV round half up to each column's display
decimals, after scaling money to tkr/mnkr, with a decimal point; a value that rounds to zero is
shown as 0, never -0. Column keys, labels and units: docs/reports.md.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

import orjson
from rich.console import Console
from rich.table import Table

from projections.reports.base import Column, Report

Format = Literal["table", "csv", "json"]
_SCALE = {"sek": 1, "tkr": 1_000, "mnkr": 1_000_000}
_UNIT_SV = {"sek": "kr", "tkr": "tkr", "mnkr": "mnkr"}


def round_half_up(value: Fraction | Decimal | int, decimals: int = 0) -> Decimal:
    """Half-up rounding as the reports do (never Python's banker's round); never a negative zero."""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    else:
        exact = Decimal(value)
    rounded = exact.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return rounded.copy_abs() if rounded.is_zero() else rounded


def json_value(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, Fraction):
        return value.numerator if value.denominator == 1 else float(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)


def display_value(column: Column, value: Any) -> str:
    """A cell as the report prints it: rounded half up, money in the column's unit."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str) or column.kind == "text":
        return str(value)
    if isinstance(value, int | Fraction | Decimal):
        scaled = Fraction(value) / _SCALE[column.unit] if column.kind == "money" else value
        return str(round_half_up(scaled, column.decimals))
    return str(value)


def header(column: Column) -> str:
    if column.kind == "money" and column.unit != "sek":
        return f"{column.label_sv} ({_UNIT_SV[column.unit]})"
    if column.kind == "percent":
        return f"{column.label_sv} (%)"
    return column.label_sv


def json_rows(report: Report) -> list[dict[str, Any]]:
    """The rows as JSON values: every column key in column order, then any extra key a row carries."""
    keys = [c.key for c in report.columns]
    out: list[dict[str, Any]] = []
    for row in report.rows:
        item = {k: json_value(row.get(k)) for k in keys}
        item.update({k: json_value(v) for k, v in row.items() if k not in item})
        out.append(item)
    return out


def to_json(report: Report) -> bytes:
    return orjson.dumps(json_rows(report), option=orjson.OPT_INDENT_2)


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.key for c in report.columns])
    for row in report.rows:
        writer.writerow([display_value(c, row.get(c.key)) for c in report.columns])
    return out.getvalue()


def to_table(report: Report, console: Console) -> None:
    table = Table(title=report.title_sv, show_lines=False)
    for c in report.columns:
        table.add_column(header(c), justify="left" if c.kind == "text" else "right")
    for row in report.rows:
        style = "bold" if row.get("row_type") in ("subtotal", "total") else None
        table.add_row(*[display_value(c, row.get(c.key)) for c in report.columns], style=style)
    console.print(table)
    for note in report.notes:
        console.print(f"[yellow]OBS:[/yellow] {note}")


def render(report: Report, fmt: Format, console: Console, *, columns: Sequence[Column] | None = None) -> None:
    if fmt == "json":
        console.file.write(to_json(report).decode() + "\n")
    elif fmt == "csv":
        console.file.write(to_csv(report))
    else:
        to_table(report, console)
