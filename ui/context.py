"""The UI's one way to its data: the source named by the settings, and cached query results.

The source (`services.queries.open_source`, the store at `CASESTREAM_DB` folded incrementally) is a
`st.cache_resource` per store URL, shared by every session. Query results are `st.cache_data` with a
bounded TTL, keyed by the store URL and the arguments: the live tiles and freshness refresh within
`LIVE_TTL` seconds, tables within `TABLE_TTL`, the "as reported on" comparison within `AS_OF_TTL`.
The UI never computes a KPI: everything here is a call to `services.queries`. Who the session is
(`access`) and the recording of views come from `services.queries_access`: a view of unit-level
figures or of the log review is appended as an `access.viewed` event by the services (an
`st.cache_resource` access log per store URL), once per change of view (`log_view`); the UI writes
nothing itself. If the view cannot be logged, the page stops before it shows anything.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Final

import streamlit as st

from events.timeutil import Period
from services import queries
from services.access_roles import Access, logged_level, may_download
from services.queries_access import (
    AccessLog,
    AccessLogError,
    View,
    open_access_log,
    record_view,
    session_access,
)
from services.queries_asof import AsOfComparison
from services.queries_cases import ChannelPoint
from services.queries_economy import TrendPoint
from services.queries_source import Freshness, KpiSource
from services.queries_units import MatrixCell, PlacesPoint
from services.settings import Settings
from ui.i18n import t

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


def access() -> Access:
    """The session's access: sign-in setting, role and pseudonymous subject (`services.access_roles`)."""
    return session_access(settings(), st.user.to_dict())


def downloads_allowed() -> bool:
    role = access().role
    return role is not None and may_download(role)


@st.cache_resource(show_spinner=False, max_entries=4)
def _access_log(db: str) -> AccessLog:
    return open_access_log(Settings(db=db))


def access_log() -> AccessLog:
    return _access_log(settings().db)


def log_view(page: str, period: Period | None, *, unit: str | None = None,
             reported_on: date | None = None) -> None:
    """Record a view of a logged page (unit level, log review) once per change of page, unit, period or
    day; a page that logs nothing makes the next logged page a new view. Stops the page (after an error
    message) when the view cannot be logged."""
    who, level = access(), logged_level(page)
    if level is None or who.role is None or who.subject is None:
        st.session_state["last_view"] = None
        return
    token = st.session_state.setdefault("session_token", uuid.uuid4().hex)
    seen = View(who.subject, who.role, page, level, unit_id=unit, period=period, known_at=reported_on,
                session=token)
    try:
        st.session_state["last_view"] = record_view(access_log(), st.session_state.get("last_view"), seen)
    except AccessLogError as exc:
        st.error(t("log_failed", error=exc))
        st.stop()


def csv_bytes(view: queries.TableView) -> bytes:
    return queries.to_csv(view)


def xlsx_bytes(view: queries.TableView) -> bytes:
    return queries.to_xlsx(view)
