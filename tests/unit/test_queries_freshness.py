"""Freshness counts data, not acts on it: a logged view (access.viewed) or a retention run moves the
store's head but not the newest figure event the UI shows, nor the key of the cached forecast band."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from events import Event, decode
from services.queries_source import StoreSource, newest_figure_event
from services.store import open_store
from tests.unit import ui_seed

GOLDEN = Path(__file__).parent / "golden"


def views(n: int) -> list[Event]:
    """n logged views (the golden access.viewed sample, each with its own event id)."""
    sample = json.loads((GOLDEN / "access.viewed.v1.json").read_text())
    return [decode(json.dumps({**sample, "event_id": str(uuid.UUID(int=i + 1))}).encode()) for i in range(n)]


def test_views_after_the_data_leave_the_freshness_of_the_figures_alone() -> None:
    store = open_store("memory://")
    store.append(ui_seed.all_events())
    before = StoreSource(store).freshness()
    store.append(views(200))  # more than one look-back window
    after = StoreSource(store).freshness()
    assert after.position == before.position + 200  # the head (and the appended count) moves
    assert after.data_position == before.data_position == before.position == 54
    assert (after.recorded_at, after.appended_at) == (before.recorded_at, before.appended_at)


def test_a_store_of_views_only_has_no_figure_event() -> None:
    store = open_store("memory://")
    store.append(views(3))
    fresh = StoreSource(store).freshness()
    assert (fresh.position, fresh.data_position, fresh.recorded_at) == (3, 0, None)
    assert newest_figure_event(store, store.head()) is None
    assert newest_figure_event(store, 0) is None
