"""Where the exporter gets its projection bundle: the one function `kpi_source(store)` decides.

The query layer (`services.queries_source`) owns the `KpiSource` protocol: `bundle(known_at)` returns
a `projections.bundle.State`, `freshness()` how new the store is (`position`, `appended_at`), and a
source whose live bundle is extended in place offers a `lock` that readers hold while they compute.
`kpi_source` uses that module's `StoreSource` when it is present; `FoldSource` is the minimal
stand-in with the same shape (an incremental fold of the store by position).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from projections import bundle
from services.store.base import EventStore


class FreshnessLike(Protocol):
    @property
    def position(self) -> int: ...

    @property
    def appended_at(self) -> datetime | None: ...


class KpiSource(Protocol):
    def bundle(self, known_at: datetime | None = None) -> bundle.State: ...

    def freshness(self) -> FreshnessLike: ...


@dataclass(frozen=True, slots=True)
class Freshness:
    position: int  # the store's head position
    appended_at: datetime | None  # when the store took in its newest event


class FoldSource:
    """The bundle of every event in the store, extended by position on each call (hold `lock` to read)."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self.lock = threading.RLock()
        self._live = bundle.State()

    def bundle(self, known_at: datetime | None = None) -> bundle.State:
        if known_at is not None:
            return bundle.fold(self.store.read_all(known_at=known_at))
        with self.lock:
            return bundle.fold(self.store.read_all(after=self._live.last_position), self._live)

    def freshness(self) -> Freshness:
        head = self.store.head()
        newest = next(self.store.read_all(after=head - 1, limit=1), None) if head else None
        return Freshness(head, None if newest is None else newest.appended_at)


def kpi_source(store: EventStore) -> KpiSource:
    """The exporter's source of KPI state over a store (the one place that picks the implementation)."""
    try:
        from services.queries_source import StoreSource
    except ImportError:  # the query layer is not in this tree: fold the store here
        return FoldSource(store)
    return StoreSource(store)
