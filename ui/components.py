"""Building blocks every page uses: the period picker, freshness, protected tables with downloads, tiles.

Tables arrive from `services.queries` already small-cell protected and rounded; here they are only laid
out (headings in the chosen language, empty cells for missing values) and offered as CSV and Excel.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import streamlit as st

from events.timeutil import Period
from services.queries import TableView, Tile
from services.queries_source import Freshness
from ui import auth, context
from ui.i18n import column, t

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def period_picker() -> Period:
    """The sidebar's period (first and last day, inclusive), shared by every page of the session."""
    default = context.default_period(context.db())
    chosen = st.sidebar.date_input(t("period"), value=default, key="period", help=t("period_help"),
                                   format="YYYY-MM-DD")
    if isinstance(chosen, tuple | list) and len(chosen) == 2:
        start, end = chosen
        st.session_state["period_ok"] = (start, end)
    start, end = st.session_state.get("period_ok", default)
    return Period(start, end)


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    for size, unit in ((86_400, "d"), (3_600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def freshness_text(f: Freshness) -> list[str]:
    if f.position == 0:
        return [t("empty_store")]
    newest = f.recorded_at.isoformat(timespec="seconds") if f.recorded_at else "–"
    age = age_text(f.age_seconds)
    lines = [f"{t('newest_event')}: {newest} ({t('position')} {f.data_position}), {t('age')} {age}"]
    if f.worker_lag is None:
        lines.append(f"{t('worker_lag')}: {t('lag_unknown')}")
    else:
        lines.append(f"{t('worker_lag')}: {f.worker_lag} {t('events')}, {age_text(f.worker_lag_seconds)}")
    return lines


@st.fragment(run_every=context.LIVE_EVERY)
def freshness_panel() -> None:
    """Always visible (sidebar): age of the newest event and the worker lag, refreshed live."""
    st.markdown(f"**{t('freshness')}**")
    for line in freshness_text(context.freshness(context.db())):
        st.caption(line)


def cell(value: object) -> str:
    return "" if value is None else str(value)


def frame(table: TableView, keys: tuple[str, ...] | None = None) -> pd.DataFrame:
    """The table's shown columns as display strings (protected cells read "<5")."""
    cols = [table.column(k) for k in (keys or table.visible)]
    data = {column(c.key, table.header(c.key)): [cell(r.get(c.key)) for r in table.rows] for c in cols}
    return pd.DataFrame(data)


def show_table(table: TableView, name: str, *, keys: tuple[str, ...] | None = None,
               small_cells: bool = True) -> None:
    st.dataframe(frame(table, keys), hide_index=True, height=min(36 * (len(table.rows) + 1) + 4, 900))
    if small_cells:
        st.caption(t("small_cells", n=context.threshold()) + " " + t("hidden_cells", k=table.suppressed))
    for note in table.notes:
        st.caption(note)
    if not context.downloads_allowed():  # CSV and Excel for the controller only
        return
    left, right = st.columns(2)
    left.download_button(t("download_csv"), context.csv_bytes(table), file_name=f"{name}.csv",
                         mime="text/csv",
                         key=f"csv-{name}", on_click="ignore")
    right.download_button(t("download_xlsx"), context.xlsx_bytes(table), file_name=f"{name}.xlsx",
                          mime=XLSX_MIME, key=f"xlsx-{name}", on_click="ignore")


def _signed(value: Decimal | None, unit: str) -> str | None:
    if value is None:
        return None
    return f"{value:+} {unit}".strip()


def show_tile(tile: Tile, where: st.delta_generator.DeltaGenerator) -> None:
    value = "–" if tile.value is None else f"{tile.value} {tile.unit}".strip()
    delta = _signed(tile.vs_previous, tile.unit)
    budget = _signed(tile.vs_budget, tile.unit)
    where.metric(t(tile.key), value, delta=None if delta is None else f"{delta} {t('vs_previous')}",
                 help=None if budget is None else f"{budget} {t('vs_budget')}", border=True)
    if budget is not None:
        where.caption(f"{budget} {t('vs_budget')}")


def period_caption(period: Period) -> None:
    st.caption(f"{t('period')}: {period.start.isoformat()} – {period.end.isoformat()}")


def sidebar(*, period: bool = True) -> Period | None:
    """The sidebar every page shares: language, sign-in state, the period picker, freshness."""
    st.sidebar.toggle(t("english"), key="lang_en")
    auth.sidebar_identity(context.access())
    chosen = period_picker() if period else None
    with st.sidebar:
        freshness_panel()
    return chosen


def page_header(title_key: str, page: str, *, log: bool = True) -> Period:
    """Every page's start: the sidebar and the title; returns the period.

    `page` is the page's key in `services.access_roles.PAGES`. A page of unit-level figures is logged
    here (`context.log_view`) unless the page logs it itself with more detail (`log=False`); a page of
    municipality-wide figures logs nothing."""
    period = sidebar()
    assert period is not None
    st.title(t(title_key))
    period_caption(period)
    if log:
        context.log_view(page, period)
    return period
