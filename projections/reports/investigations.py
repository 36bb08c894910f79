"""The investigations report (Utredningar): opened and closed per month, durations and the trend.

One detail row per month of the period: inledda per target group and in total, avslutade, the mean
and median duration (days) of the month's closings and the rolling 12-month mean of openings. The
total row gives the period's sums, the average per month (total ÷ months, R21), durations over the
whole period and the number of investigations open past the limit at the period's end; the notes
name closings that cannot be matched to an opening. Columns: docs/reports.md (#investigations).
"""

from __future__ import annotations

from typing import Final

from events.timeutil import Month, Period
from events.vocabulary import TARGET_GROUP_SV, TARGET_GROUPS
from projections import investigations as inv
from projections.reports.base import Column, Report, Value

COLUMNS: Final = (
    Column("month", "Månad", "text"),
    *(Column(f"opened_{g}", f"Inledda utredningar {TARGET_GROUP_SV[g]}", "int") for g in TARGET_GROUPS),
    Column("opened_total", "Inledda utredningar totalt", "int"),
    Column("closed_total", "Avslutade utredningar", "int"),
    Column("mean_days", "Utredningstid, medelvärde (dagar)", "number", decimals=0),
    Column("median_days", "Utredningstid, median (dagar)", "number", decimals=0),
    Column("average_per_month", "Inledda, genomsnitt per månad", "number", decimals=0),
    Column("rolling_12m_mean", "Inledda, rullande 12-månadersmedelvärde", "number", decimals=0),
    Column("overdue", "Pågående över gränsen vid periodens slut", "int"),
    Column("row_type", "Radtyp", "text"),
)


def _row(state: inv.State, label: str, period: Period, row_type: str) -> dict[str, Value]:
    hist = inv.duration_histogram(state, period)
    row: dict[str, Value] = {"month": label}
    row.update({f"opened_{g}": inv.opened_count(state, period, g) for g in TARGET_GROUPS})
    row.update(opened_total=inv.opened_count(state, period), closed_total=inv.closed_count(state, period),
               mean_days=inv.mean_days(hist), median_days=inv.median_days(hist), average_per_month=None,
               rolling_12m_mean=None, overdue=None, row_type=row_type)
    return row


def investigations_report(
    state: inv.State, period: Period, *, limit_days: int = inv.DEFAULT_LIMIT_DAYS, since: Month | None = None
) -> Report:
    """Utredningar per month of the period and in total; `since` = first month of the history."""
    rows: list[dict[str, Value]] = []
    for month in period.months():
        row = _row(state, str(month), period.month_part(month), "detail")
        row["rolling_12m_mean"] = inv.rolling_mean(state, month, since=since)
        rows.append(row)
    total = _row(state, str(period), period, "total")
    total["average_per_month"] = inv.average_per_month(state, period)
    total["overdue"] = len(inv.overdue(state, period.end, limit_days))
    rows.append(total)
    notes = [f"Pågående över gränsen = öppna {period.end.isoformat()} och äldre än {limit_days} dagar."]
    notes.extend(f"Avslut utan känd inledning eller före inledningen: {i.investigation_id}"
                 for i in inv.inconsistent(state))
    return Report("investigations", f"Utredningar {period}", COLUMNS, rows, notes)
