"""Cached band forecasts for the Prognos page: keyed by store URL, store head position and parameters.

A forecast takes seconds on a real history, so results are `st.cache_data` with a bounded TTL
(`BAND_TTL`) and keyed by the store's head position (a new event gives a new key; an unchanged store
is never forecast twice), the period, the seed, the number of simulations, the small-cell threshold
and the scenario file's bytes. Every figure comes from `services.queries_forecast`.
"""

from __future__ import annotations

from datetime import date
from typing import Final

import streamlit as st

from services import queries_forecast
from services.queries_forecast import BandPoint, BandScreen
from ui import context

BAND_TTL: Final = 600  # seconds: a forecast of an unchanged head is reused this long
HISTORY_TTL: Final = 1800  # seconds: the month-end history (twelve forecasts)


def head(db: str) -> int:
    """The position of the newest figure event (from the freshness cache, LIVE_TTL old at most).

    A logged view or a retention run moves the store's head but changes no figure, so it is no new key.
    """
    return context.freshness(db).data_position


@st.cache_data(ttl=BAND_TTL, show_spinner="Beräknar prognos …", max_entries=16)
def band(db: str, head: int, as_of: date, seed: int, simulations: int, threshold: int,
         scenario_name: str | None = None, scenario_bytes: bytes | None = None) -> BandScreen:
    """The band screen; a bad scenario file raises ScenarioError (not cached)."""
    specs = [] if scenario_bytes is None or scenario_name is None else (
        queries_forecast.load_scenarios(scenario_bytes, scenario_name))
    return queries_forecast.band_screen(context._source(db), as_of, seed=seed, simulations=simulations,
                                        threshold=threshold, specs=specs)


@st.cache_data(ttl=HISTORY_TTL, show_spinner="Beräknar prognoshistorik …", max_entries=8)
def history(db: str, head: int, through: date, seed: int, simulations: int) -> list[BandPoint]:
    return queries_forecast.band_history(context._source(db), through, seed=seed, simulations=simulations)
