"""Prognos: forecast vs budget through the year per line, and "as reported on" next to "as known now".

The forecast (helårsprognos, prognosavvikelse = budget − prognos) is `services.queries.forecast_table`;
the trend is the forecast with the outcome through each month end. The "as reported on" picker shows
the forecast per line as known at the end of that day beside the figures known now, with the events
registered afterwards (late registrations, corrections, retractions) counted by kind and type.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from events.timeutil import Period
from services.queries import differences
from services.queries_asof import AsOfComparison
from ui import charts, components, context
from ui.i18n import t


def _comparison(comparison: AsOfComparison) -> None:
    rows = differences(comparison)
    st.dataframe(pd.DataFrame({
        t("line"): [r.line for r in rows], t("target_group"): [r.target_group for r in rows],
        f"{t('as_reported')} (mnkr)": [components.cell(r.then) for r in rows],
        f"{t('as_known_now')} (mnkr)": [components.cell(r.now) for r in rows],
        f"{t('difference')} (mnkr)": [components.cell(r.difference) for r in rows],
    }), hide_index=True, key="as-of-table")
    if comparison.changes is None:
        st.caption(t("changes_unknown"))
    elif not comparison.changes:
        st.caption(t("no_changes"))
    else:
        st.markdown(t("explained_by") + ":")
        st.dataframe(pd.DataFrame({
            t("kind"): [t(c.kind_sv) for c in comparison.changes],
            t("event_type"): [c.event_type for c in comparison.changes],
            t("count"): [c.count for c in comparison.changes],
        }), hide_index=True, key="changes-table")


def _as_of(period: Period) -> None:
    st.subheader(f"{t('as_reported')} / {t('as_known_now')}")
    day = st.date_input(t("reported_on"), value=period.end, key="reported_on", format="YYYY-MM-DD")
    context.log_view("page_forecast", period, day)
    comparison = context.as_of(context.db(), period.start, period.end, day, context.threshold())
    _comparison(comparison)


def render() -> None:
    period = components.page_header("page_forecast", log=False)  # logged with the chosen day below
    db, n = context.db(), context.threshold()
    st.subheader(t("forecast_chart"))
    st.altair_chart(charts.forecast(context.trend(db, period.start, period.end)), width="stretch")
    st.subheader(t("forecast_table"))
    components.show_table(context.table(db, "forecast", period.start, period.end, n),
                          f"prognos-{period.start}-{period.end}")
    _as_of(period)


render()
