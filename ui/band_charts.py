"""The Prognos page's band chart: p10–p90 as an area, p50, run rate and budget as lines (mnkr)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import cast

import altair as alt
import pandas as pd

from services.queries_forecast import BandPoint
from ui.charts import AnyChart
from ui.i18n import t


def _mnkr(value: Decimal | None) -> float | None:
    return None if value is None else float(value) / 1e6


def band(points: Sequence[BandPoint]) -> AnyChart:
    """One point per forecast date (month ends of the history, or the chosen date alone)."""
    area = pd.DataFrame([{"as_of": p.as_of.isoformat(), "p10": _mnkr(p.p10_sek), "p90": _mnkr(p.p90_sek)}
                         for p in points])
    lines = pd.DataFrame([{"as_of": p.as_of.isoformat(), "what": what, "mnkr": _mnkr(value)}
                          for p in points for what, value in (
                              (t("band_p50"), p.p50_sek), (t("run_rate"), p.run_rate_sek),
                              (t("budget"), p.budget_sek))])
    x = alt.X("as_of:O", title=t("forecast_date"))
    shade = alt.Chart(area).mark_area(opacity=0.3, color="#4c78a8").encode(
        x=x, y=alt.Y("p10:Q", title="mnkr"), y2="p90:Q",
        tooltip=[alt.Tooltip("as_of:O", title=t("forecast_date")),
                 alt.Tooltip("p10:Q", title="p10", format=".1f"),
                 alt.Tooltip("p90:Q", title="p90", format=".1f")])
    if len(points) == 1:  # a single date: the band as a bar from p10 to p90
        shade = alt.Chart(area).mark_bar(opacity=0.3, color="#4c78a8", size=40).encode(
            x=x, y=alt.Y("p10:Q", title="mnkr"), y2="p90:Q")
    line = alt.Chart(lines).transform_filter("datum.mnkr !== null").mark_line(point=True).encode(
        x=x, y="mnkr:Q", color=alt.Color("what:N", title=""),
        tooltip=["as_of", "what", alt.Tooltip("mnkr:Q", format=".1f")])
    return cast(AnyChart, alt.layer(shade, line))
