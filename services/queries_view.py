"""Tables as the UI shows and downloads them: small-cell protected, rounded, with Swedish headings.

A `TableView` is built from a report (`projections.reports.base.Report`) and, per row, the number of
persons or cases each cell rests on. `protect_report` replaces every cell resting on fewer than the
threshold (default 5, `settings.small_cell_threshold`) by "<5" through `projections.smallcell` — the
one rule — before anything is rounded, so the table, its charts, the CSV and the Excel file all carry
the same protected values. Rounding is half up to the column's decimals, money in its display unit
(kr, tkr, mnkr), as `services.render` does for `casestream report`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from openpyxl import Workbook
from openpyxl.styles import Font

from events.vocabulary import CATEGORY_SV, REPORT_GROUP_SV, TARGET_GROUP_SV
from projections import smallcell
from projections.reports.base import Column, Report, Value
from services.render import display_value, header

Cell = Decimal | int | str | None
Counts = Mapping[str, int | None]  # column key -> persons/cases the cell rests on (None: not protected)

TEXT_SV: dict[str, Mapping[str, str]] = {
    "target_group": {str(k): v for k, v in TARGET_GROUP_SV.items()},
    "group": {**REPORT_GROUP_SV, "all": "Alla"},
    "category": {str(k): v for k, v in CATEGORY_SV.items()},
    "unit_kind": {"long_stay": "Boenden längre perioder", "short_stay": "Boenden kortare tid",
                  "group": "Öppenvårdsgrupper", "all": "Alla"},
}


@dataclass(frozen=True, slots=True)
class TableView:
    """A protected, rounded table: `rows` hold Decimal/int numbers, text, "<5" or None."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[dict[str, Cell], ...]
    visible: tuple[str, ...]  # the columns the screen shows (downloads carry all of them)
    notes: tuple[str, ...] = ()
    suppressed: int = 0  # cells shown as "<threshold"
    meta: dict[str, str] = field(default_factory=dict)

    def header(self, key: str) -> str:
        return header(self.column(key))

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def display(self, row: Mapping[str, Cell], key: str) -> str:
        value = row.get(key)
        return "" if value is None else str(value)


def protect_report(report: Report, counts: Sequence[Counts], threshold: int) -> tuple[Report, int]:
    """The report with each cell whose count is below the threshold replaced by "<threshold"."""
    rows: list[dict[str, Value]] = []
    hidden = 0
    for row, cell_counts in zip(report.rows, counts, strict=True):
        out = dict(row)
        for key, n in cell_counts.items():
            if out.get(key) is not None and smallcell.suppressed(n, threshold=threshold):
                out[key] = smallcell.label(threshold)
                hidden += 1
        rows.append(out)
    return Report(report.name, report.title_sv, report.columns, rows, list(report.notes)), hidden


def rounded(column: Column, value: Value) -> Cell:
    """A cell rounded for display: numbers as Decimal (half up, unit-scaled), vocabulary in Swedish."""
    if value is None or isinstance(value, str):
        if isinstance(value, str) and column.key in TEXT_SV:
            return TEXT_SV[column.key].get(value, value)
        return value
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, int | Fraction | Decimal):
        return Decimal(display_value(column, value))
    return display_value(column, value)


def view(report: Report, counts: Sequence[Counts], threshold: int, visible: Sequence[str],
         *, meta: Mapping[str, str] | None = None) -> TableView:
    protected, hidden = protect_report(report, counts, threshold)
    rows = tuple({c.key: rounded(c, r.get(c.key)) for c in protected.columns} for r in protected.rows)
    return TableView(report.name, report.title_sv, report.columns, rows, tuple(visible),
                     tuple(report.notes), hidden, dict(meta or {}))


def _download_columns(table: TableView) -> list[Column]:
    return list(table.columns)


def to_csv(table: TableView) -> bytes:
    """CSV (UTF-8 with BOM so Excel opens å/ä/ö right), Swedish headings, protected values."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    cols = _download_columns(table)
    writer.writerow([header(c) for c in cols])
    for row in table.rows:
        writer.writerow([table.display(row, c.key) for c in cols])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: TableView) -> bytes:
    """A real Excel workbook (openpyxl): numbers as numbers with the column's decimals, "<5" as text."""
    book = Workbook()
    sheet = book.active
    sheet.title = table.name[:31]
    cols = _download_columns(table)
    sheet.append([header(c) for c in cols])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append([float(v) if isinstance(v, Decimal) else v for v in (row.get(c.key) for c in cols)])
    for idx, col in enumerate(cols, start=1):
        if col.kind not in ("text", "date", "bool"):
            fmt = "0" if col.decimals == 0 else "0." + "0" * col.decimals
            for (cell,) in sheet.iter_rows(min_row=2, min_col=idx, max_col=idx):
                cell.number_format = fmt
    if table.notes:
        notes = book.create_sheet("Noter")
        for note in table.notes:
            notes.append([note])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
