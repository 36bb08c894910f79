"""Logguppföljning: the controller's monthly review of the access log, per user, with flags.

One row per pseudonymous subject (`services.access_review`): antal visningar, visningar på
enhetsnivå, uttag med råa siffror, antal olika enheter, visningar utanför kontorstid (vardagar 07–18
Europe/Stockholm), första och senaste visning, flaggor (utanför kontorstid, många enheter, råa
uttag); then Totalt. The same table as `casestream report logguppfoljning --month YYYY-MM`. Viewing
it is itself logged (level `log`). Only the controller has this page.
"""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from services.queries_access import recent_months, review_table
from ui import components, context
from ui.i18n import t


def render() -> None:
    components.sidebar(period=False)
    st.title(t("page_log_review"))
    st.caption(t("log_review_help"))
    months = recent_months(datetime.now(UTC))
    month = st.selectbox(t("log_review_month"), months, key="log_month",
                         format_func=lambda m: f"{m.year:04d}-{m.month:02d}")
    context.log_view("logguppfoljning", None)
    table = review_table(context.access_log(), month, context.settings().access_review_many_units)
    st.subheader(table.title)
    components.show_table(table, f"logguppfoljning-{month.year:04d}-{month.month:02d}", small_cells=False)


render()
