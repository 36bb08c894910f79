"""Externa köp: the report's table per category and target group with subtotals and total.

Columns as the report lays them out (personer snitt per dygn, kostnad snitt per dygn, budget,
avvikelse för perioden, prognos personer, prognos pris, prognosavvikelse, prognos total kostnad),
for the chosen period, small-cell protected, downloadable as CSV and Excel.
"""

from __future__ import annotations

import streamlit as st

from ui import components, context


def render() -> None:
    period = components.page_header("page_external", "externa-kop")
    table = context.table(context.db(), "external-purchases", period.start, period.end, context.threshold())
    st.subheader(table.title)
    components.show_table(table, f"externa-kop-{period.start}-{period.end}")


render()
