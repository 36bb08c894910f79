"""Aktualiseringar och utredningar: intake by channel and month with the rolling mean; investigations.

Aggregates only (no case or person is named): antal aktualiseringar per kanal och månad, rullande
12-månadersmedelvärde; inledda och avslutade utredningar, utredningstid, pågående över gränsen.
"""

from __future__ import annotations

from decimal import Decimal

import streamlit as st

from services.queries import TableView
from ui import charts, components, context
from ui.i18n import t


def _rolling(table: TableView) -> list[tuple[str, float | None]]:
    return [(str(r["month"]), charts.number(r.get("rolling_12m_mean"))) for r in table.rows
            if r.get("row_type") == "detail"]


def _opened_closed(table: TableView) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for r in table.rows:
        if r.get("row_type") != "detail":
            continue
        for key, what in (("opened_total", t("opened")), ("closed_total", t("closed"))):
            value = r.get(key)
            rows.append({"month": r["month"], "what": what, "label": components.cell(value),
                         "count": float(value) if isinstance(value, Decimal | int) else None})
    return rows


def render() -> None:
    period = components.page_header("page_cases", "aktualiseringar")
    db, n = context.db(), context.threshold()
    intake = context.table(db, "intake", period.start, period.end, n)
    st.subheader(t("intake_chart"))
    st.altair_chart(charts.intake(context.channels(db, period.start, period.end, n), _rolling(intake)),
                    width="stretch")
    st.subheader(t("intake_table"))
    components.show_table(intake, f"aktualiseringar-{period.start}-{period.end}")
    limit = context.settings().investigation_limit_days
    inv = context.table(db, "investigations", period.start, period.end, n, limit)
    st.subheader(t("investigations_chart"))
    st.altair_chart(charts.investigations(_opened_closed(inv)), width="stretch")
    st.subheader(t("investigations_table"))
    components.show_table(inv, f"utredningar-{period.start}-{period.end}")


render()
