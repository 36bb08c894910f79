"""Beläggning: units × months heat map, the report's occupancy table with Ack and group totals, places.

Beläggningsgrad = occupied place-days ÷ (places × days) per unit and month; Ack and the kinds'
"Totalt (ovägt medelvärde)" as the reports (`projections.reports.occupancy`). Small cells "<5".
"""

from __future__ import annotations

import streamlit as st

from ui import charts, components, context
from ui.i18n import t


def render() -> None:
    period = components.page_header("page_occupancy")
    db, n = context.db(), context.threshold()
    cells = context.matrix(db, period.start, period.end, n)
    st.subheader(t("heatmap"))
    if cells:
        st.altair_chart(charts.heatmap(cells), width="stretch")
    else:
        st.info(t("no_data"))
    st.subheader(t("occupancy_table"))
    components.show_table(context.table(db, "occupancy", period.start, period.end, n),
                          f"belaggning-{period.start}-{period.end}")
    points = context.places(db, period.start, period.end)
    if points:
        st.subheader(t("places_over_time"))
        st.altair_chart(charts.places(points), width="stretch")


render()
