"""Beläggning: units × months heat map, the report's occupancy table with Ack and group totals, places.

Beläggningsgrad = occupied place-days ÷ (places × days) per unit and month; Ack and the kinds'
"Totalt (ovägt medelvärde)" as the reports (`projections.reports.occupancy`). Small cells "<5".
Figures per own unit: the page is for the roles enhet and controller, and every view of it (all units,
or the one unit picked) is logged as an `access.viewed` event with the unit.
"""

from __future__ import annotations

import streamlit as st

from services.queries_access import only_unit, unit_choices
from services.queries_units import occupancy_matrix
from ui import charts, components, context
from ui.i18n import t

ALL = ""  # the picker's "all units"


def _unit(choices: dict[str, str]) -> str | None:
    options = [ALL, *choices]
    picked = st.selectbox(t("unit"), options, key="unit",
                          format_func=lambda u: t("all_units") if u == ALL else choices[u])
    return None if picked == ALL else picked


def render() -> None:
    period = components.page_header("page_occupancy", "belaggning", log=False)  # logged with the unit
    db, n = context.db(), context.threshold()
    table = context.table(db, "occupancy", period.start, period.end, n)
    choices = unit_choices(table)
    unit = _unit(choices)
    context.log_view("belaggning", period, unit=unit)
    cells = context.matrix(db, period.start, period.end, n)
    if unit is not None:
        table = only_unit(table, unit)
        cells = occupancy_matrix(table, period)
    st.subheader(t("heatmap"))
    if cells:
        st.altair_chart(charts.heatmap(cells), width="stretch")
    else:
        st.info(t("no_data"))
    st.subheader(t("occupancy_table"))
    components.show_table(table, f"belaggning-{period.start}-{period.end}" + (f"-{unit}" if unit else ""))
    points = context.places(db, period.start, period.end)
    if unit is not None:
        points = [p for p in points if p.unit == choices[unit]]
    if points:
        st.subheader(t("places_over_time"))
        st.altair_chart(charts.places(points), width="stretch")


render()
