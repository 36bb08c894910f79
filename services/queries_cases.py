"""Aktualiseringar och utredningar: intake by channel and month, investigations opened and closed.

Figures come from `projections.reports.intake.intake_report` (antal aktualiseringar per månad, per
kanal and målgrupp, andelar, rullande 12-månadersmedelvärde) and
`projections.reports.investigations.investigations_report` (inledda, avslutade, utredningstid
medelvärde/median, pågående över gränsen). Aggregates only: no case or person appears.

Small cells: every count broken down by month, channel, target group or sex rests on itself; a
share (andel) on the count of its numerator; a month's durations on the month's closings; a rolling
mean on the cases in its 12-month window. The whole period's totals (antal, avslutade, pågående över
gränsen, genomsnitt per månad, durations) are the whole municipality and are shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Final

from events.timeutil import Period
from events.vocabulary import CHANNEL_SV, CHANNELS, TARGET_GROUPS
from projections import bundle, intake, smallcell
from projections.definitions import history_start
from projections.reports.base import Report, Value
from projections.reports.intake import intake_report
from projections.reports.investigations import investigations_report
from services.queries_source import KpiSource, reading
from services.queries_view import Counts, TableView, view

ROLLING_WINDOW: Final = 12


def _int(value: Value) -> int | None:
    return int(value) if isinstance(value, int | Fraction) else None


def _window(value: Value) -> int | None:
    """Cases in the 12-month window behind a rolling mean."""
    return None if not isinstance(value, int | Fraction) else int(value * ROLLING_WINDOW)


def _intake_counts(report: Report, state: bundle.State, period: Period) -> list[Counts]:
    parts = [period.month_part(m) for m in period.months()] + [period]
    out: list[Counts] = []
    for row, part in zip(report.rows, parts, strict=True):
        figures = intake.figures(state.intake, part)
        whole = row["row_type"] == "total"
        counts: dict[str, int | None] = {"total": None if whole else _int(row["total"])}
        counts.update({f"channel_{c}": figures.by_channel(c) for c in CHANNELS})
        counts.update({f"target_group_{g}": figures.by_target_group(g) for g in TARGET_GROUPS})
        counts.update(female_pct=figures.by_sex("female"), male_pct=figures.by_sex("male"),
                      application_share_pct=figures.by_channel("application"),
                      rolling_12m_mean=_window(row["rolling_12m_mean"]))
        out.append(counts)
    return out


def intake_table(source: KpiSource, period: Period, *,
                 threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """Aktualiseringar per month and channel with the rolling mean, protected."""
    with reading(source):
        state = source.bundle(None)
        report = intake_report(state.intake, period, since=history_start(state))
        counts = _intake_counts(report, state, period)
    visible = ("month", "total", *(f"channel_{c}" for c in CHANNELS),
               *(f"target_group_{g}" for g in TARGET_GROUPS),
               "application_share_pct", "mean_per_month", "rolling_12m_mean")
    return view(report, counts, threshold, visible)


@dataclass(frozen=True, slots=True)
class ChannelPoint:
    """Aktualiseringar of one channel in one month (None when hidden; `label` is "<5" then)."""

    month: str
    channel: str
    count: Decimal | int | None
    label: str


def intake_by_channel(table: TableView) -> list[ChannelPoint]:
    """The chart's points, read off the protected table (hidden cells stay hidden)."""
    points: list[ChannelPoint] = []
    for row in table.rows:
        if row.get("row_type") != "detail":
            continue
        for c in CHANNELS:
            value = row.get(f"channel_{c}")
            count = value if isinstance(value, Decimal | int) else None
            label = "" if value is None else str(value)
            points.append(ChannelPoint(str(row["month"]), CHANNEL_SV[c], count, label))
    return points


def _investigation_counts(report: Report) -> list[Counts]:
    out: list[Counts] = []
    for row in report.rows:
        whole = row["row_type"] == "total"
        counts: dict[str, int | None] = {f"opened_{g}": _int(row[f"opened_{g}"]) for g in TARGET_GROUPS}
        closed = None if whole else _int(row["closed_total"])
        counts.update(opened_total=None if whole else _int(row["opened_total"]), closed_total=closed,
                      mean_days=closed, median_days=closed, rolling_12m_mean=_window(row["rolling_12m_mean"]))
        out.append(counts)
    return out


def investigations_table(source: KpiSource, period: Period, *, limit_days: int = 120,
                         threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """Utredningar opened/closed per month, durations and the count open past the limit, protected."""
    with reading(source):
        state = source.bundle(None)
        report = investigations_report(state.investigations, period, limit_days=limit_days,
                                       since=history_start(state))
    visible = ("month", *(f"opened_{g}" for g in TARGET_GROUPS), "opened_total", "closed_total", "mean_days",
               "median_days", "average_per_month", "rolling_12m_mean", "overdue")
    # the notes may name investigation ids (inconsistent closings): aggregates only on screen
    clean = Report(report.name, report.title_sv, report.columns, report.rows, report.notes[:1])
    return view(clean, _investigation_counts(report), threshold, visible)
