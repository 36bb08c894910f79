"""The synthetic history of `casestream bench replay`: a seeded mix of aktualiseringar, utredningar and
placements (started, repriced, ended) over several municipalities and years, registered within a few
days of their business day, and a SQLite store built from it.

It stands in for the simulator (services/simulator) so the bench does not depend on it.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from events import Event, decode_dict

CATEGORIES = ("institution", "family_home_external", "outpatient_day_priced")


def _ev(
    rng: random.Random, etype: str, stream: str, muni: str, day: date, data: dict[str, Any]
) -> dict[str, Any]:
    recorded = datetime(day.year, day.month, day.day, 9, tzinfo=UTC) + timedelta(hours=rng.randint(0, 72))
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": etype,
        "stream_id": stream,
        "municipality": muni,
        "occurred_at": day.isoformat(),
        "recorded_at": recorded.isoformat(),
        "data": data,
    }


def _case(rng: random.Random, n: int, muni: str, day: date) -> list[dict[str, Any]]:
    person, tg = f"P{muni}-{n}", rng.choice(("children", "youth"))
    out = [
        _ev(
            rng,
            "case.actualised",
            f"case:{muni}:{n}",
            muni,
            day,
            {
                "person": person,
                "channel": "report",
                "target_group": tg,
                "sex": rng.choice(("female", "male")),
            },
        )
    ]
    if rng.random() < 0.4:
        inv = f"inv:{muni}:{n}"
        out.append(
            _ev(
                rng,
                "investigation.opened",
                inv,
                muni,
                day + timedelta(days=7),
                {"investigation_id": inv, "person": person, "target_group": tg},
            )
        )
        out.append(
            _ev(
                rng,
                "investigation.closed",
                inv,
                muni,
                day + timedelta(days=rng.randint(20, 140)),
                {"investigation_id": inv, "outcome": "intervention"},
            )
        )
    return out


def _placement(rng: random.Random, n: int, muni: str, day: date) -> list[dict[str, Any]]:
    pid = f"pl:{muni}:{n}"
    own = rng.random() < 0.3
    price = rng.randint(10, 60) * 100
    data = {
        "placement_id": pid,
        "person": f"Q{muni}-{n}",
        "category": "institution" if own else rng.choice(CATEGORIES),
        "regime": "own" if own else "purchased",
        "target_group": rng.choice(("children", "youth")),
        "legal_basis": rng.choice(("SoL", "LVU")),
        "price_sek": price,
        "price_unit": "day",
    }
    if own:
        data["unit_id"] = f"U{muni}-{n % 3}"
    stop = day + timedelta(days=rng.randint(10, 400))
    return [
        _ev(rng, "placement.started", pid, muni, day, data),
        _ev(
            rng,
            "placement.repriced",
            pid,
            muni,
            day + timedelta(days=5),
            {"placement_id": pid, "price_sek": price + 100, "price_unit": "day"},
        ),
        _ev(rng, "placement.ended", pid, muni, stop, {"placement_id": pid}),
    ]


def synthetic(n_events: int, municipalities: int, years: int, seed: int = 7,
              order: str = "case") -> Iterator[dict[str, Any]]:
    """About `n_events` wire dicts, spread evenly over the days of `years` years from 2020.

    `order` "case": each case's events together, on its first day (a placement's end up to 400 days
    ahead of its record time: positions are far from record order, and a store appends most events
    long after they were recorded); "recorded": in the order they are registered (recorded_at), as a
    live store appends them. The events are the same either way.
    """
    if order not in ("case", "recorded"):
        raise ValueError(f"order is 'case' or 'recorded', not {order!r}")
    days = _days(n_events, municipalities, years, seed)
    return (e for _, made in days for e in made) if order == "case" else _in_record_order(days)


def _in_record_order(days: Iterator[tuple[date, list[dict[str, Any]]]]) -> Iterator[dict[str, Any]]:
    """The events made day by day, in order of recorded_at. Every event made on a day or later is
    recorded from 09:00 that day on (`_ev`), so the events waiting in the heap recorded before it are
    due. Memory: the events not yet due (a placement's end, an utredning's closing), not the history."""
    heap: list[tuple[str, int, dict[str, Any]]] = []
    n = 0
    for day, made in days:
        due = f"{day.isoformat()}T09:00:00+00:00"
        while heap and heap[0][0] < due:
            yield heapq.heappop(heap)[2]
        for event in made:
            heapq.heappush(heap, (event["recorded_at"], n, event))
            n += 1
    while heap:
        yield heapq.heappop(heap)[2]


def _days(n_events: int, municipalities: int, years: int, seed: int
          ) -> Iterator[tuple[date, list[dict[str, Any]]]]:
    """The history as made: (day, the events made that day: new cases with all their events)."""
    rng = random.Random(seed)
    munis = [f"{1880 + i:04d}" for i in range(municipalities)]
    units = [
        _ev(
            rng,
            "unit.capacity_set",
            f"unit:U{m}-{k}",
            m,
            date(2020, 1, 1),
            {"unit_id": f"U{m}-{k}", "name": f"Enhet {k}", "places": 12, "kind": "long_stay"},
        )
        for m in munis
        for k in range(3)
    ]
    yield date(2020, 1, 1), units
    days, emitted, n = years * 365, len(units), 0
    for d in range(days):
        day = date(2020, 1, 1) + timedelta(days=d)
        due = len(units) + (n_events - len(units)) * (d + 1) // days
        made: list[dict[str, Any]] = []
        while emitted < due:
            n += 1
            batch = (_placement if rng.random() < 0.4 else _case)(rng, n, munis[n % len(munis)], day)
            batch = batch[: due - emitted] if d == days - 1 else batch
            emitted += len(batch)
            made.extend(batch)
        yield day, made


def build_store(db: Path, n_events: int, municipalities: int, years: int, batch: int = 5000,
                order: str = "case") -> int:
    """Append the synthetic history to a SQLite store at `db` (store clock = the batch's registration)."""
    from services.store import open_store

    clock_now = [datetime(2020, 1, 1, tzinfo=UTC)]
    store = open_store(f"sqlite:///{db}", clock=lambda: clock_now[0])
    pending: list[Event] = []
    try:
        for raw in synthetic(n_events, municipalities, years, order=order):
            pending.append(decode_dict(raw))
            if len(pending) >= batch:
                _flush(store, pending, clock_now)
        _flush(store, pending, clock_now)
        return store.head()
    finally:
        store.close()


def _flush(store: Any, pending: list[Event], clock_now: list[datetime]) -> None:
    if pending:
        clock_now[0] = max(e.recorded_at for e in pending if e.recorded_at) + timedelta(minutes=1)
        store.append(pending)
        pending.clear()
