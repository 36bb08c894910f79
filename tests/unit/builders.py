"""Builders of valid wire events for tests: each returns an `Event` via `events.codec.decode_dict`.

Keep this a plain module of functions named after the event they build. Dates may be given as
`date` or ISO strings; `recorded_at` defaults to the start of the business day (Stockholm).
Streams follow CONVENTIONS §5: a placement's events (and their retractions) on the placement's
stream, a unit's capacity on `unit:<id>`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from events.codec import decode_dict
from events.envelope import Event
from events.privacy import find_personnummer

MUNICIPALITY = "1880"  # Örebro

Day = date | str
Instant = date | datetime | str


def _iso(value: Instant) -> str:
    return value if isinstance(value, str) else value.isoformat()


def _money(value: int | str | Decimal) -> int | str:
    return str(value) if isinstance(value, Decimal) else value


def new_event_id() -> uuid.UUID:
    """A random event id the personnummer guard cannot mistake for one (about 1 in 10 000 uuid4s
    has a date-valid, Luhn-valid YYMMDD-NNNN across its first two groups and would be rejected)."""
    while True:
        candidate = uuid.uuid4()
        if find_personnummer(str(candidate)) is None:
            return candidate


def envelope(
    etype: str, stream_id: str, occurred_at: Day, data: dict[str, Any], *,
    recorded_at: Instant | None = None, event_id: uuid.UUID | str | None = None,
) -> Event:
    """Any event type, through the real codec."""
    return decode_dict({
        "event_id": str(event_id or new_event_id()),
        "type": etype,
        "stream_id": stream_id,
        "municipality": MUNICIPALITY,
        "occurred_at": _iso(occurred_at),
        "recorded_at": _iso(recorded_at if recorded_at is not None else occurred_at),
        "data": data,
    })


def placement_started(
    placement_id: str, start: Day, *, person: str | None = None, category: str = "institution",
    target_group: str = "children", regime: str = "purchased", unit_id: str | None = None,
    legal_basis: str = "SoL", sex: str = "unknown", price: int | str | Decimal = 0, price_unit: str = "day",
    recorded_at: Instant | None = None, event_id: uuid.UUID | str | None = None,
) -> Event:
    data: dict[str, Any] = {
        "placement_id": placement_id, "person": person or f"P-{placement_id}", "category": category,
        "regime": regime, "target_group": target_group, "legal_basis": legal_basis, "sex": sex,
        "price_sek": _money(price), "price_unit": price_unit,
    }
    if unit_id is not None:
        data["unit_id"] = unit_id
    return envelope("placement.started", placement_id, start, data, recorded_at=recorded_at,
                    event_id=event_id)


def placement_ended(
    placement_id: str, day: Day, *, reason: str = "planned", recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"placement_id": placement_id, "reason": reason}
    return envelope("placement.ended", placement_id, day, data, recorded_at=recorded_at, event_id=event_id)


def placement_repriced(
    placement_id: str, day: Day, price: int | str | Decimal, *, price_unit: str = "day",
    recorded_at: Instant | None = None, event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"placement_id": placement_id, "price_sek": _money(price), "price_unit": price_unit}
    return envelope("placement.repriced", placement_id, day, data, recorded_at=recorded_at, event_id=event_id)


def placement_corrected(
    placement_id: str, day: Day, *, start: Day | None = None, end: Day | None = None, reopen: bool = False,
    price: int | str | Decimal | None = None, price_unit: str | None = None, reason: str = "rättelse",
    recorded_at: Instant | None = None, event_id: uuid.UUID | str | None = None,
) -> Event:
    data: dict[str, Any] = {"placement_id": placement_id, "reason": reason, "reopen": reopen}
    if start is not None:
        data["start"] = _iso(start)
    if end is not None:
        data["end"] = _iso(end)
    if price is not None:
        data["price_sek"] = _money(price)
        data["price_unit"] = price_unit or "day"
    return envelope("placement.corrected", placement_id, day, data, recorded_at=recorded_at,
                    event_id=event_id)


def retracted(
    target: Event, day: Day, *, reason: str = "felregistrering", recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    """Makulering of `target`, on the target's stream."""
    data = {"retracted_event_id": str(target.event_id), "reason": reason}
    return envelope("event.retracted", target.stream_id, day, data, recorded_at=recorded_at,
                    event_id=event_id)


def unit_capacity_set(
    unit_id: str, day: Day, places: int, *, name: str | None = None, kind: str = "long_stay",
    recorded_at: Instant | None = None, event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"unit_id": unit_id, "name": name or unit_id, "places": places, "kind": kind}
    return envelope("unit.capacity_set", f"unit:{unit_id}", day, data, recorded_at=recorded_at,
                    event_id=event_id)


def stay(placement_id: str, start: Day, end: Day | None, **started: Any) -> list[Event]:
    """A placement from `start` to departure day `end` (None: still open): started (+ ended)."""
    out = [placement_started(placement_id, start, **started)]
    if end is not None:
        out.append(placement_ended(placement_id, end))
    return out


def flatten(groups: Iterable[Iterable[Event]]) -> list[Event]:
    return [e for g in groups for e in g]
