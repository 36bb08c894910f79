"""The access log as events: each view of unit-level or case-level figures, each raw report run and each
view of the log review is one `access.viewed` event appended to the event store (CONVENTIONS §7).

Appended through the composition root's store (`services.bootstrap`, the normal append path) on the
stream `access:<YYYY-MM>` (the Stockholm month of the view), so the monthly log review reads one
stream. `occurred_at` and `recorded_at` are the instant of the view, in UTC; the event id is random
(a view is a new fact each time). The municipality code is `access_municipality` when set, else the
one of the store's first event ("0000" in an empty store). No figure and no name is logged.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Final

from events.access import AccessViewed, Channel, Level, Role
from events.envelope import Event
from events.registry import ENVELOPES
from events.timeutil import STOCKHOLM, Month, Period
from services.settings import Settings
from services.store import EventStore, StoreError

STREAM_PREFIX: Final = "access:"
UNKNOWN_MUNICIPALITY: Final = "0000"


@dataclass(frozen=True, slots=True)
class View:
    """One access: who (pseudonymous subject), under which role, what (view, level, unit), which period."""

    subject: str
    role: Role
    view: str
    level: Level
    channel: Channel = "ui"
    unit_id: str | None = None
    period: Period | None = None
    known_at: date | None = None
    session: str | None = None

    def key(self) -> tuple[object, ...]:
        """What makes two renders the same view (the UI records a view once per change of this key)."""
        return (self.subject, self.role, self.view, self.unit_id, self.period, self.known_at)


def stream_of(month: Month) -> str:
    return f"{STREAM_PREFIX}{month.year:04d}-{month.month:02d}"


def month_of(instant: datetime) -> Month:
    local = instant.astimezone(STOCKHOLM)
    return Month(local.year, local.month)


def view_event(view: View, *, at: datetime, municipality: str, event_id: uuid.UUID) -> Event:
    """The `access.viewed` event of a view at an instant (pure: the caller gives the time and the id)."""
    data = AccessViewed(
        subject=view.subject, role=view.role, view=view.view, level=view.level, channel=view.channel,
        unit_id=view.unit_id, known_at=view.known_at, session=view.session,
        period_start=None if view.period is None else view.period.start,
        period_end=None if view.period is None else view.period.end,
    )
    return ENVELOPES[AccessViewed.TYPE](
        event_id=event_id, type=AccessViewed.TYPE, version=AccessViewed.VERSION,
        stream_id=stream_of(month_of(at)), municipality=municipality, occurred_at=at, recorded_at=at,
        data=data,
    )


def municipality_of(store: EventStore) -> str:
    first = next(store.read_all(limit=1), None)
    return UNKNOWN_MUNICIPALITY if first is None else first.municipality


def utc_now() -> datetime:
    return datetime.now(UTC)


class AccessLog:
    """Appends views to a store and reads a month of them back."""

    def __init__(self, store: EventStore, municipality: str | None = None,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.store = store
        self._municipality = municipality
        self._clock = clock

    @property
    def municipality(self) -> str:
        if self._municipality is None:
            self._municipality = municipality_of(self.store)
        return self._municipality

    def record(self, view: View) -> Event:
        """Append one view; returns the stored event. A store that refuses raises `StoreError`."""
        event = view_event(view, at=self._clock(), municipality=self.municipality, event_id=uuid.uuid4())
        result = self.store.append([event])
        if result.conflicts:
            raise StoreError("; ".join(result.conflicts))
        return result.accepted[0]

    def month(self, month: Month) -> list[Event]:
        """The month's access events, in store order."""
        return [e for e in self.store.read_stream(stream_of(month)) if e.type == AccessViewed.TYPE]

    def close(self) -> None:
        self.store.close()


def open_access_log(settings: Settings) -> AccessLog:
    """An access log on the store `settings.db` names, opened through the composition root."""
    from services.bootstrap import bootstrap

    app = bootstrap(settings)
    return AccessLog(app.store, settings.access_municipality)
