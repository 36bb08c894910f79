"""Översikt: live tiles for the chosen period, with the change vs the previous period and vs budget.

Tiles (defined in `services.queries.overview_tiles`): personer snitt per dygn, kostnad per vårddygn
(ovägt och vägt medelvärde), beläggningsgrad egna boenden, aktualiseringar denna månad,
prognosavvikelse. They refresh in an `st.fragment(run_every=...)` while the page is open.
"""

from __future__ import annotations

import streamlit as st

from events.timeutil import Period
from ui import components, context


@st.fragment(run_every=context.LIVE_EVERY)
def live_tiles(period: Period) -> None:
    tiles = context.tiles(context.db(), period.start, period.end, context.threshold())
    for row_start in range(0, len(tiles), 3):
        cols = st.columns(3)
        for tile, col in zip(tiles[row_start:row_start + 3], cols, strict=False):
            components.show_tile(tile, col)


def render() -> None:
    period = components.page_header("page_overview", "oversikt")
    live_tiles(period)


render()
