"""Where the exporter gets its projection bundle: `kpi_source(store)` is the one place that decides.

The query layer owns the `KpiSource` protocol (`services.queries_source`): `bundle(known_at)` returns
a `projections.bundle.State`, `freshness()` says how new the store is (`position`, `appended_at`), and
readers of the live bundle hold `reading(source)` while they compute, because it is extended in place.
The exporter uses the same `StoreSource` as the UI: the store folded incrementally by position.
"""

from __future__ import annotations

from services.queries_source import KpiSource, StoreSource, reading
from services.store.base import EventStore

__all__ = ["KpiSource", "kpi_source", "reading"]


def kpi_source(store: EventStore) -> KpiSource:
    """The exporter's source of KPI state over a store."""
    return StoreSource(store)
