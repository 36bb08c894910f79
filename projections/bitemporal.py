"""Bitemporal questions: "as known at T" (känt per T) versus "as currently known".

Business time (`occurred_at`) decides which period an event belongs to; registration time
(`recorded_at`) decides whether it was known when a figure was published. A KPI as known at T is the
same fold over only the events with recorded_at <= T (CONVENTIONS §1), so a placement registered in
May changes March as currently known but not March as reported on 30 April. A correction or
retraction recorded after T likewise does not act on the figure as known at T.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from events.envelope import Event
from events.timeutil import as_aware


def known_at(events: Iterable[Event], t: datetime | None) -> Iterator[Event]:
    """The events known at instant `t` (recorded_at <= t); all events when `t` is None.

    A naive `t` is Stockholm time. An event without `recorded_at` has not been registered by the
    store and is known at no `t` (it is kept only when `t` is None).
    """
    if t is None:
        yield from events
        return
    limit = as_aware(t)
    for event in events:
        if event.recorded_at is not None and event.recorded_at <= limit:
            yield event
