"""The intake report (Aktualiseringar): per month by channel, target group and sex, with the trend.

One detail row per month of the period (a part month at either end covers only its part) and a
total row for the whole period: counts per channel (anmälan, ansökan, begäran) and target group
(Barn, Unga, Vuxna), the shares by sex and the share of applications in percent, and the rolling
12-month mean of monthly totals. Columns: docs/reports.md (#intake).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from events.timeutil import Month, Period
from events.vocabulary import CHANNEL_SV, CHANNELS, TARGET_GROUP_SV, TARGET_GROUPS
from projections import intake
from projections.intake import Intake
from projections.reports.base import Column, Report, Value

COLUMNS: Final = (
    Column("month", "Månad", "text"),
    Column("total", "Antal aktualiseringar", "int"),
    *(Column(f"channel_{c}", CHANNEL_SV[c], "int") for c in CHANNELS),
    *(Column(f"target_group_{g}", TARGET_GROUP_SV[g], "int") for g in TARGET_GROUPS),
    Column("female_pct", "Andel kvinnor/flickor", "percent"),
    Column("male_pct", "Andel män/pojkar", "percent"),
    Column("application_share_pct", "Andel ansökningar av anmälningar och ansökningar", "percent"),
    Column("mean_per_month", "Snitt per månad", "number", decimals=1),
    Column("rolling_12m_mean", "Rullande 12-månadersmedelvärde", "number", decimals=1),
    Column("row_type", "Radtyp", "text"),
)


def _row(label: str, figures: Intake, row_type: str) -> dict[str, Value]:
    row: dict[str, Value] = {"month": label, "total": figures.total}
    row.update({f"channel_{c}": figures.by_channel(c) for c in CHANNELS})
    row.update({f"target_group_{g}": figures.by_target_group(g) for g in TARGET_GROUPS})
    row.update(female_pct=figures.sex_share_pct("female"), male_pct=figures.sex_share_pct("male"),
               application_share_pct=figures.application_share_pct, mean_per_month=None,
               rolling_12m_mean=None, row_type=row_type)
    return row


def intake_report(state: intake.State, period: Period, *, since: Month | None = None) -> Report:
    """Aktualiseringar per month of the period and in total; `since` = first month of the history."""
    rows: list[dict[str, Value]] = []
    for month, figures in intake.monthly(state, period).items():
        row = _row(str(month), figures, "detail")
        row["rolling_12m_mean"] = intake.rolling_mean(state, month, since=since)
        rows.append(row)
    total = _row(str(period), intake.figures(state, period), "total")
    total["mean_per_month"] = Fraction(intake.figures(state, period).total, len(period.months()))
    rows.append(total)
    notes = ["Antal under 5 visas som '<5' i uppdelningar under hela kommunen och perioden (sekretess); "
             "rapporten för controller visar råa tal."]
    return Report("intake", f"Aktualiseringar {period}", COLUMNS, rows, notes)
