"""Altair charts of the protected query results (a hidden cell is never drawn; its label reads "<5")."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import cast

import altair as alt
import pandas as pd

from services.queries_cases import ChannelPoint
from services.queries_economy import TrendPoint
from services.queries_units import MatrixCell, PlacesPoint
from ui.i18n import t

AnyChart = alt.Chart | alt.LayerChart


def number(value: object) -> float | None:
    return float(value) if isinstance(value, Decimal | int) else None


def heatmap(cells: Iterable[MatrixCell]) -> AnyChart:
    data = pd.DataFrame([{"unit": c.unit, "month": c.month, "label": c.label, "percent": number(c.percent)}
                         for c in cells])
    base = alt.Chart(data).encode(x=alt.X("month:O", title=t("month")), y=alt.Y("unit:N", title=t("unit")))
    rect = base.mark_rect().encode(color=alt.Color("percent:Q", title="%", scale=alt.Scale(domain=[0, 110])),
                                   tooltip=["unit", "month", "label"])
    height = max(80, 36 * data["unit"].nunique()) if not data.empty else 80
    return cast(AnyChart, (rect + base.mark_text().encode(text="label:N")).properties(height=height))


def places(points: Iterable[PlacesPoint]) -> AnyChart:
    data = pd.DataFrame([{"unit": p.unit, "month": p.month, "places": float(p.places)} for p in points])
    return cast(AnyChart, alt.Chart(data).mark_line(point=True).encode(
        x=alt.X("month:O", title=t("month")), y=alt.Y("places:Q", title=t("places_over_time")),
        color=alt.Color("unit:N", title=t("unit")), tooltip=["unit", "month", "places"]))


def intake(points: Iterable[ChannelPoint], rolling: list[tuple[str, float | None]]) -> AnyChart:
    data = pd.DataFrame([{"month": p.month, "channel": p.channel, "count": number(p.count), "label": p.label}
                         for p in points])
    bars = alt.Chart(data).transform_filter("datum.count !== null").mark_bar().encode(
        x=alt.X("month:O", title=t("month")), y=alt.Y("count:Q", title=t("count")),
        color=alt.Color("channel:N", title=t("channel")), tooltip=["month", "channel", "label"])
    mean = pd.DataFrame([{"month": m, "mean": v} for m, v in rolling if v is not None])
    if mean.empty:
        return cast(AnyChart, alt.layer(bars))
    line = alt.Chart(mean).mark_line(color="black", point=True).encode(
        x="month:O", y="mean:Q", tooltip=[alt.Tooltip("mean:Q", title=t("rolling_mean"))])
    return cast(AnyChart, alt.layer(bars, line))


def investigations(rows: list[dict[str, object]]) -> AnyChart:
    data = pd.DataFrame(rows)
    return cast(AnyChart, alt.Chart(data).transform_filter("datum.count !== null").mark_bar().encode(
        x=alt.X("month:O", title=t("month")), xOffset="what:N", y=alt.Y("count:Q", title=t("count")),
        color=alt.Color("what:N", title=""), tooltip=["month", "what", "label"]))


def forecast(points: Iterable[TrendPoint]) -> AnyChart:
    rows = []
    for p in points:
        rows.append({"through": p.through.isoformat(), "what": t("forecast_total"),
                     "mnkr": None if p.forecast_total_sek is None else float(p.forecast_total_sek) / 1e6})
        rows.append({"through": p.through.isoformat(), "what": t("budget"),
                     "mnkr": None if p.budget_sek is None else float(p.budget_sek) / 1e6})
    return cast(AnyChart, alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x=alt.X("through:O", title=t("through")), y=alt.Y("mnkr:Q", title="mnkr"),
        color=alt.Color("what:N", title=""),
        tooltip=["through", "what", alt.Tooltip("mnkr:Q", format=".1f")]))
