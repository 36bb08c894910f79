"""The simulator's shared machinery: seeded ids, registration times and the record-time timeline.

Every random draw comes from the one `random.Random` a `Context` is given, in a fixed order, so the
same seed gives the same events byte for byte. Event ids are UUIDs drawn from that generator
(`uuid.UUID(int=rng.getrandbits(128), version=4)`); an id whose text happens to look like a
personnummer is drawn again, so no event is ever refused by the codec's personnummer rule.

A `Timeline` holds generated events until their registration time (`recorded_at`) comes: the
history is emitted in record-time order, the order a municipality's register would have filled.
"""

from __future__ import annotations

import heapq
import math
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from events.privacy import find_personnummer
from events.timeutil import STOCKHOLM
from services.simulator.calibration import Calibration

Raw = dict[str, Any]


def at(day: date, minutes: int = 0) -> datetime:
    """An aware Stockholm datetime `minutes` after midnight of `day`."""
    return datetime.combine(day, time.min, tzinfo=STOCKHOLM) + timedelta(minutes=minutes)


def _residual_survival(y: float, k: int) -> float:
    return math.exp(-y) * sum((k - j) * y**j / math.factorial(j) for j in range(k)) / k


@dataclass
class Timeline:
    """Events waiting for their registration time; popped in (recorded_at, creation) order."""

    heap: list[tuple[float, int, Raw]] = field(default_factory=list)
    seq: int = 0

    def push(self, event: Raw, recorded: datetime) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (recorded.timestamp(), self.seq, event))

    def pop_entries(self, bound: datetime) -> Iterator[tuple[float, int, Raw]]:
        """(timestamp, seq, event) of every event registered before `bound`, in registration order."""
        limit = bound.timestamp()
        while self.heap and self.heap[0][0] < limit:
            yield heapq.heappop(self.heap)


@dataclass
class Context:
    """One municipality's generator state: calibration, random source, id counters, open placements."""

    cal: Calibration
    rng: random.Random
    municipality: str
    start: date  # first business day of the history
    stop: date  # first business day after it
    scale: float = 1.0
    timeline: Timeline = field(default_factory=Timeline)
    counters: dict[str, int] = field(default_factory=dict)
    open_placements: dict[str, tuple[Raw, date]] = field(default_factory=dict)  # pid -> started, stop
    known_persons: dict[str, list[str]] = field(default_factory=dict)  # target group -> person ids
    person_sex: dict[str, str] = field(default_factory=dict)

    def a(self, key: str) -> Any:
        """A global modelling assumption of the calibration."""
        return self.cal.assumptions[key]

    def event_id(self) -> str:
        while True:
            text = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            if find_personnummer(text) is None:
                return text

    def new_id(self, prefix: str) -> str:
        """A pseudonymous id like `p-1880-000123` (never personnummer-shaped: 4 + 6 digits)."""
        n = self.counters.get(prefix, 0) + 1
        self.counters[prefix] = n
        return f"{prefix}-{self.municipality}-{n:06d}"

    def gamma_days(self, mean: float, shape: float | None = None) -> int:
        """A whole number of days >= 1 with the given mean (gamma distributed)."""
        k = float(shape if shape is not None else self.a("duration_shape"))
        return max(1, round(self.rng.gammavariate(k, mean / k)))

    def residual_days(self, mean: float, u: float | None = None, shape: int | None = None) -> int:
        """Remaining days of a stay already running at the start of the history.

        A gamma(k) stay (integer k = the duration shape) seen at a random moment has the residual
        survival e^-y Σ_{j<k} (k-j) y^j / (k j!) in units of mean/k; the quantile `u` (stratified
        over the initial stock, so year 1 starts at level) is inverted by bisection.
        """
        k = int(self.a("duration_shape")) if shape is None else shape
        q = self.rng.random() if u is None else u
        lo, hi = 0.0, 80.0
        for _ in range(40):
            mid = (lo + hi) / 2
            if _residual_survival(mid, k) > 1 - q:
                lo = mid
            else:
                hi = mid
        return max(1, round(lo * mean / k))

    def registered(self, day: date) -> datetime:
        """When a fact of business day `day` was registered: mostly the same office day, some late."""
        r = self.rng.random()
        late = float(self.a("late_registration_share"))
        next_day = float(self.a("next_day_registration_share"))
        if r < late:
            lo, hi = self.a("late_registration_days")
            lag = self.rng.randint(int(lo), int(hi))
        elif r < late + next_day:
            lag = 1
        else:
            lag = 0
        return at(day + timedelta(days=lag), self.rng.randint(7 * 60, 17 * 60))

    def emit(self, etype: str, stream: str, day: date, data: Raw, recorded: datetime | None = None,
             version: int = 1) -> Raw:
        """Create an event of business day `day` and queue it until its registration time."""
        when = self.registered(day) if recorded is None else recorded
        event = {"event_id": self.event_id(), "type": etype, "version": version, "stream_id": stream,
                 "municipality": self.municipality, "occurred_at": day.isoformat(),
                 "recorded_at": when.isoformat(), "data": data}
        self.timeline.push(event, when)
        return event

    def pick(self, shares: dict[str, float]) -> str:
        """A key drawn with the given weights."""
        keys = list(shares)
        return self.rng.choices(keys, weights=[float(shares[k]) for k in keys])[0]


