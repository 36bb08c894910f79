"""Prognos: forecast vs budget through the year per line, and "as reported on" next to "as known now".

The forecast (helårsprognos, prognosavvikelse = budget − prognos) is `services.queries.forecast_table`;
the trend is the forecast with the outcome through each month end. The "as reported on" picker shows
the forecast per line as known at the end of that day beside the figures known now, with the events
registered afterwards (late registrations, corrections, retractions) counted by kind and type.

The band part (`services.queries_forecast`, cached per store head in `ui.forecast_cache`): the
simulated helårsprognos p10 / p50 / p90 per line and in total at the period's last day, as known now,
next to budget and the run-rate figure (prognos i takt); a band chart through the year from the
month-end forecast history (drawn by default for stores up to `ui_forecast_history_max_events`
events, else on request; otherwise the band at the chosen date); and scenarios side by side — a file
from the folder `CASESTREAM_FORECAST_SCENARIO_DIR` or an uploaded YAML/JSON file.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from events.timeutil import Period
from projections.scenarios import ScenarioError
from services.queries import differences
from services.queries_asof import AsOfComparison
from services.queries_economy import cell_text
from services.queries_forecast import BandScreen, scenario_files
from ui import band_charts, charts, components, context, forecast_cache
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
    comparison = context.as_of(context.db(), period.start, period.end, day, context.threshold())
    _comparison(comparison)


def _scenario_file() -> tuple[str, bytes] | None:
    """The chosen scenario: an uploaded file, else one picked from the configured folder, else none."""
    files = {p.name: p for p in scenario_files(context.settings().forecast_scenario_dir)}
    left, right = st.columns(2)
    picked = left.selectbox(t("scenario_file"), [t("no_scenario"), *files], key="scenario_file")
    uploaded = right.file_uploader(t("scenario_upload"), type=["yaml", "yml", "json"], key="scenario_upload")
    if uploaded is not None:
        return uploaded.name, uploaded.getvalue()
    if picked in files:
        return picked, files[picked].read_bytes()
    return None


def _band_screen(period: Period) -> BandScreen:
    cfg, db, n = context.settings(), context.db(), context.threshold()
    head = forecast_cache.head(db)
    args = (db, head, period.end, cfg.forecast_seed, cfg.forecast_simulations, n)
    chosen = _scenario_file()
    if chosen is not None:
        try:
            return forecast_cache.band(*args, *chosen)
        except ScenarioError as exc:
            st.error(f"{t('scenario_error')}: {exc}")
    return forecast_cache.band(*args)


def _band_chart(period: Period, screen: BandScreen) -> None:
    cfg, db = context.settings(), context.db()
    head = forecast_cache.head(db)
    show = st.toggle(t("band_history"), value=head <= cfg.ui_forecast_history_max_events, key="band_history")
    points = [screen.total]
    if show:
        points = forecast_cache.history(db, head, period.end, cfg.forecast_seed, cfg.forecast_simulations)
        points = points or [screen.total]
    st.caption(t("band_history_note") if len(points) > 1 else t("band_at_date", day=screen.total.as_of))
    st.altair_chart(band_charts.band(points), width="stretch")


def _band(period: Period) -> None:
    st.subheader(t("band_title"))
    screen = _band_screen(period)
    tiles = (("band_p50_total", "p50_sek"), ("band_range", "p10_sek"), ("run_rate", "run_rate_total_sek"),
             ("budget", "budget_sek"))
    for where, (label, key) in zip(st.columns(len(tiles)), tiles, strict=True):
        value, high = cell_text(screen.table, "total", key), cell_text(screen.table, "total", "p90_sek")
        shown = f"{value}–{high}" if key == "p10_sek" else f"{value} mnkr"
        where.metric(t(label), shown, border=True)
    _band_chart(period, screen)
    components.show_table(screen.table, f"prognos-band-{screen.total.as_of}")
    if screen.scenarios is not None:
        st.subheader(t("scenarios_title"))
        st.caption(", ".join(screen.scenario_names))
        components.show_table(screen.scenarios, f"prognos-scenarier-{screen.total.as_of}")


def render() -> None:
    period = components.page_header("page_forecast", "prognos")  # municipality-wide: not logged
    db, n = context.db(), context.threshold()
    st.subheader(t("forecast_chart"))
    st.altair_chart(charts.forecast(context.trend(db, period.start, period.end)), width="stretch")
    st.subheader(t("forecast_table"))
    components.show_table(context.table(db, "forecast", period.start, period.end, n),
                          f"prognos-{period.start}-{period.end}")
    _as_of(period)
    _band(period)


render()
