"""Where the query functions get their folded projections: a `KpiSource`.

A source answers two questions: `bundle(known_at)` — every projection folded from the events recorded
by `known_at` (None: everything known now) — and `freshness()` — how new the data is (the newest
event's recorded_at / appended_at and global position, and the worker lag when a pipeline reports
one). `StoreSource` folds the event store itself: the live bundle is kept and extended by position
(only events after its `last_position` are folded on the next call), "as known at" bundles are folded
on demand and a few are kept until the store's head moves. A read-model source (the pipeline's) offers
the same protocol.

A source may also be a `ChangeSource`: it can list the events recorded after an instant, which is how
"as reported on" figures are explained next to "as known now" (late registrations, corrections,
retractions). Readers of a live bundle hold `reading(source)` while they compute, because the live
bundle is extended in place (copying it per refresh would cost more than the fold).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol, runtime_checkable

from events import Event
from events.timeutil import as_aware
from projections.bundle import State as Bundle
from projections.bundle import fold
from services.store.base import EventStore

Clock = Callable[[], datetime]

# Event types that record an act on the data, not data: a logged view (access.viewed) or a retention run
# (retention.applied). No projection reads them, so they neither make the figures fresher nor explain a
# changed figure.
NOT_FIGURES: Final = frozenset({"access.viewed", "retention.applied"})
_LOOK_BACK: Final = 64  # events read back from the head per step when looking for the newest figure event


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Freshness:
    """How new the data behind the figures is (färskhet)."""

    position: int  # the store's newest global position (0: empty store)
    recorded_at: datetime | None  # the newest figure event's registration time (NOT_FIGURES left out)
    appended_at: datetime | None  # when the store took it in
    checked_at: datetime  # when this was measured
    worker_lag: int | None = None  # events the read model is behind the store (None: not known)
    worker_lag_seconds: float | None = None
    figures_position: int | None = None  # position of the newest figure event (None: same as position)

    @property
    def data_position(self) -> int:
        """The position the figures reflect: the newest event a projection reads."""
        return self.position if self.figures_position is None else self.figures_position

    @property
    def age_seconds(self) -> float | None:
        """Seconds since the newest event reached the store (None for an empty store)."""
        newest = self.appended_at or self.recorded_at
        return None if newest is None else max(0.0, (self.checked_at - as_aware(newest)).total_seconds())


class KpiSource(Protocol):
    def bundle(self, known_at: datetime | None = None) -> Bundle: ...

    def freshness(self) -> Freshness: ...


@runtime_checkable
class ChangeSource(Protocol):
    def recorded_after(self, instant: datetime) -> Iterator[Event]:
        """Events whose recorded_at lies after `instant`, in position order."""
        ...


def newest_figure_event(store: EventStore, head: int) -> Event | None:
    """The newest event that is data (not in NOT_FIGURES), read back from `head` in growing windows."""
    end, step = head, _LOOK_BACK
    while end > 0:
        start = max(0, end - step)
        found = [e for e in store.read_all(after=start, limit=end - start) if e.type not in NOT_FIGURES]
        if found:
            return found[-1]
        end, step = start, step * 4
    return None


def reading(source: object) -> AbstractContextManager[object]:
    """Hold the source's lock (when it has one) while reading a bundle it may extend in place."""
    lock = getattr(source, "lock", None)
    return lock if lock is not None else nullcontext()


class StoreSource:
    """A `KpiSource` (and `ChangeSource`) folding an `EventStore` directly, incrementally by position."""

    def __init__(self, store: EventStore, *, clock: Clock = utc_now, keep_as_of: int = 2) -> None:
        self.store = store
        self.lock = threading.RLock()
        self._clock = clock
        self._live = Bundle()
        self._as_of: OrderedDict[datetime, Bundle] = OrderedDict()
        self._as_of_head = -1
        self._keep = keep_as_of

    def bundle(self, known_at: datetime | None = None) -> Bundle:
        with self.lock:
            if known_at is None:
                return fold(self.store.read_all(after=self._live.last_position), self._live)
            return self._folded_as_of(as_aware(known_at))

    def _folded_as_of(self, known_at: datetime) -> Bundle:
        head = self.store.head()
        if head != self._as_of_head:  # a new event may have been back-registered: forget old folds
            self._as_of.clear()
            self._as_of_head = head
        state = self._as_of.get(known_at)
        if state is None:
            state = fold(self.store.read_all(known_at=known_at))
            self._as_of[known_at] = state
            while len(self._as_of) > self._keep:
                self._as_of.popitem(last=False)
        self._as_of.move_to_end(known_at)
        return state

    def freshness(self) -> Freshness:
        head = self.store.head()
        newest = newest_figure_event(self.store, head)
        return Freshness(position=head, recorded_at=None if newest is None else newest.recorded_at,
                         appended_at=None if newest is None else newest.appended_at, checked_at=self._clock(),
                         figures_position=0 if newest is None else newest.position)

    def recorded_after(self, instant: datetime) -> Iterator[Event]:
        cutoff = as_aware(instant)
        for event in self.store.read_all():
            if event.recorded_at is not None and event.recorded_at > cutoff:
                yield event

    def close(self) -> None:
        self.store.close()
