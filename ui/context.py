"""The UI's one way to its data: the source named by the settings, and cached query results.

The source (`services.queries.open_source`, the store at `CASESTREAM_DB` folded incrementally) is a
`st.cache_resource` per store URL, shared by every session. Query results are `st.cache_data` with a
bounded TTL, keyed by the store URL and the arguments: the live tiles and freshness refresh within
`LIVE_TTL` seconds, tables within `TABLE_TTL`, the "as reported on" comparison within `AS_OF_TTL`.
The UI never computes a KPI: everything here is a call to `services.queries`; views are recorded
through `services.queries_access.record_view` (the UI writes nothing itself).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Final

import streamlit as st

from events.timeutil import Period
from services import queries
from services.queries_access import View, record_view
from services.queries_asof import AsOfComparison
from services.queries_cases import ChannelPoint
from services.queries_economy import TrendPoint
from services.queries_source import Freshness, KpiSource
from services.queries_units import MatrixCell, PlacesPoint
from services.settings import Settings

LIVE_TTL: Final = 5  # seconds: tiles and freshness
TABLE_TTL: Final = 30  # seconds: tables and charts
LIVE_EVERY: Final = 10  # seconds between refreshes of the live fragments
AS_OF_TTL: Final = 300  # seconds: "as reported on" folds and scans the store again; a past day rarely moves


def settings() -> Settings:
    return Settings()


@st.cache_resource(show_spinner="Läser händelselagret …", max_entries=4)
def _source(db: str) -> KpiSource:
    source = queries.open_source(Settings(db=db))
    source.bundle()  # the first live fold, under the spinner; later calls fold only new events
    return source


def source() -> KpiSource:
    return _source(settings().db)


def db() -> str:
    return settings().db


def threshold() -> int:
    return settings().small_cell_threshold


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=64)
def freshness(db: str) -> Freshness:
    return _source(db).freshness()


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=16)
def default_period(db: str) -> tuple[date, date]:
    period = queries.default_period(_source(db))
    return period.start, period.end


@st.cache_data(ttl=LIVE_TTL, show_spinner=False, max_entries=64)
def tiles(db: str, start: date, end: date, threshold: int) -> list[queries.Tile]:
    return queries.overview_tiles(_source(db), Period(start, end), threshold=threshold)


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=64)
def table(
    db: str, name: str, start: date, end: date, threshold: int, limit_days: int = 120
) -> queries.TableView:
    period = Period(start, end)
    src = _source(db)
    if name == "external-purchases":
        return queries.external_purchases_table(src, period, threshold=threshold)
    if name == "occupancy":
        return queries.occupancy_table(src, period, threshold=threshold)
    if name == "intake":
        return queries.intake_table(src, period, threshold=threshold)
    if name == "investigations":
        return queries.investigations_table(src, period, limit_days=limit_days, threshold=threshold)
    if name == "forecast":
        return queries.forecast_table(src, period, threshold=threshold)
    raise ValueError(f"unknown table {name!r}")


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=32)
def matrix(db: str, start: date, end: date, threshold: int) -> list[MatrixCell]:
    period = Period(start, end)
    return queries.occupancy_matrix(table(db, "occupancy", start, end, threshold), period)


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=32)
def places(db: str, start: date, end: date) -> list[PlacesPoint]:
    return queries.places_over_time(_source(db), Period(start, end))


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=32)
def channels(db: str, start: date, end: date, threshold: int) -> list[ChannelPoint]:
    return queries.intake_by_channel(table(db, "intake", start, end, threshold))


@st.cache_data(ttl=TABLE_TTL, show_spinner=False, max_entries=32)
def trend(db: str, start: date, end: date) -> list[TrendPoint]:
    return queries.forecast_through_year(_source(db), Period(start, end))


@st.cache_data(ttl=AS_OF_TTL, show_spinner=False, max_entries=16)
def as_of(db: str, start: date, end: date, reported_on: date, threshold: int) -> AsOfComparison:
    return queries.as_of_comparison(_source(db), Period(start, end), reported_on, threshold=threshold)


def log_view(page: str, period: Period, reported_on: date | None = None) -> None:
    """Record the view once per change of page, period or day (reruns and live refreshes are not views)."""
    token = st.session_state.setdefault("session_token", uuid.uuid4().hex)
    key = (page, period.start, period.end, reported_on)
    if st.session_state.get("last_view") == key:
        return
    st.session_state["last_view"] = key
    record_view(settings().var_dir, View(page, period, token, reported_on))


def csv_bytes(view: queries.TableView) -> bytes:
    return queries.to_csv(view)


def xlsx_bytes(view: queries.TableView) -> bytes:
    return queries.to_xlsx(view)
