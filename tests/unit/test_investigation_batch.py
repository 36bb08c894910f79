"""The searches over every utredning of a compact state (overdue, inconsistent) find what the ordinary
fold finds: their batch path tests the kept days on whole columns and resolves only the candidates.

Random histories: utredningar opened and closed (a closing on the opening day, before it, without an
opening; two openings or closings), some of their events retracted (full facts), and searches on days
and limits that put ages right at the limit.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from events import Event
from events.reference import EventRetracted
from projections import bundle, investigations
from tests.unit import builders as b
from tests.unit import event_builders_economy as eb

START = date(2021, 1, 1)


def _history(seed: int) -> list[Event]:
    rng = random.Random(seed)
    events: list[Event] = []
    for n in range(300):
        inv, opened = f"inv:{n}", START + timedelta(days=rng.randint(0, 300))
        if rng.random() < 0.9:
            events.append(eb.investigation_opened(f"case:{n}", inv, opened, person=f"PER-{n % 70}",
                                                  target_group=rng.choice(("children", "youth"))))
        if rng.random() < 0.2:
            again = opened + timedelta(days=rng.randint(-5, 5))
            events.append(eb.investigation_opened(f"case:{n}", inv, again))
        for _ in range(rng.choice((0, 1, 1, 2))):
            closed = opened + timedelta(days=rng.choice((-3, 0, 1, 119, 120, 121, rng.randint(2, 200))))
            events.append(eb.investigation_closed(f"case:{n}", inv, closed))
    events += [b.retracted(e, "2022-01-10") for e in rng.sample(events, len(events) // 15)]
    rng.shuffle(events)
    return events


@pytest.mark.parametrize("seed", range(4))
def test_overdue_and_inconsistent_equal_the_ordinary_fold(seed: int) -> None:
    events = _history(seed)
    targets = frozenset(e.data.retracted_event_id for e in events if isinstance(e.data, EventRetracted))
    full = bundle.fold(events).investigations
    small = bundle.fold(events, bundle.compact(targets)).investigations
    assert full.compact is None and small.compact is not None and small.facts
    assert investigations.inconsistent(small) == investigations.inconsistent(full) != []
    found = 0
    for day in (START + timedelta(days=d) for d in (0, 119, 120, 121, 200, 290, 420)):
        for limit in (0, 30, 119, 120):
            overdue = investigations.overdue(small, day, limit)
            assert overdue == investigations.overdue(full, day, limit)
            found += len(overdue)
    assert found > 100
