"""Shared pieces of the pipeline tests: seeded event histories, sizes, and bundle comparison.

`history(seed, n)` builds a mixed, valid history through the real codec (tests/unit builders):
placements started / repriced / corrected / ended in purchased and own units, unit capacity,
aktualiseringar, utredningar opened and closed, budget, ledger postings, forecast overrides, EKB
statuses, workload and retractions of earlier events, with back-registered recorded_at times.
"""

from __future__ import annotations

import os
import random
import uuid
from datetime import date, timedelta
from typing import Any

from events import Event
from projections import bundle
from services.readmodel.tables import PROJECTIONS
from tests.unit import builders as b
from tests.unit import event_builders_economy as e

SCALE = os.environ.get("CASESTREAM_TEST_SCALE", "small")
EVENTS_PER_RUN = {"small": 2500, "medium": 10_000, "large": 50_000}.get(SCALE, 2500)
START = date(2021, 1, 1)


def _eid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def history(seed: int, n: int = EVENTS_PER_RUN) -> list[Event]:
    """About `n` valid events, deterministic for a seed."""
    rng = random.Random(seed)
    out: list[Event] = [e.budget_set(2021, 90_000_000, category="institution", target_group="children",
                                     event_id=_eid(rng))]
    out += [b.unit_capacity_set(f"unit-{u}", START, rng.randint(4, 12), event_id=_eid(rng)) for u in range(3)]
    open_placements: list[str] = []
    open_inv: list[tuple[str, str]] = []
    while len(out) < n:
        day = START + timedelta(days=rng.randint(0, 360))
        late = day + timedelta(days=rng.choice([0, 0, 0, 3, 40]))
        kind = rng.random()
        kw: dict[str, Any] = {"recorded_at": late, "event_id": _eid(rng)}
        if kind < 0.25 or not open_placements:
            pid = f"placement:s{seed}-{len(out)}"
            unit = rng.choice([None, None, "unit-0", "unit-1"])
            out.append(b.placement_started(pid, day, person=f"pers-{rng.randint(1, 400):04d}", unit_id=unit,
                                           regime="own" if unit else "purchased",
                                           category=rng.choice(["institution", "family_home_external"]),
                                           price=rng.randint(1500, 6000), **kw))
            open_placements.append(pid)
        elif kind < 0.35:
            out.append(b.placement_repriced(rng.choice(open_placements), day, rng.randint(1500, 6000), **kw))
        elif kind < 0.45:
            out.append(b.placement_ended(open_placements.pop(rng.randrange(len(open_placements))),
                                         day + timedelta(days=30), **kw))
        elif kind < 0.48:
            out.append(b.placement_corrected(rng.choice(open_placements), day, price=rng.randint(1000, 3000),
                                             price_unit="day", **kw))
        elif kind < 0.65:
            out.append(e.case_actualised(f"case:s{seed}-{len(out)}", day, person=f"pers-{rng.randint(1, 400):04d}",
                                         channel=rng.choice(["report", "application"]), **kw))
        elif kind < 0.75:
            inv = (f"case:i{seed}-{len(out)}", f"inv-{len(out)}")
            out.append(e.investigation_opened(*inv, day, person=f"pers-{rng.randint(1, 400):04d}", **kw))
            open_inv.append(inv)
        elif kind < 0.82 and open_inv:
            out.append(e.investigation_closed(*open_inv.pop(0), day + timedelta(days=rng.randint(5, 150)), **kw))
        elif kind < 0.88:
            out.append(e.ledger_posted(2021, day.month, rng.randint(10_000, 900_000), category="institution",
                                       target_group="children", **kw))
        elif kind < 0.92:
            out.append(e.ekb_status(f"pers-{rng.randint(1, 60):04d}", day, rng.choice(["asylum_seeker", "municipality_placed", "ended"]), **kw))
        elif kind < 0.95:
            out.append(e.workload_measured("barn", day, rng.randint(1, 52), rng.randint(60, 130), **kw))
        else:
            target = rng.choice(out[4:]) if len(out) > 4 else out[0]
            if target.type != "event.retracted":
                out.append(b.retracted(target, late, **kw))
    return out


def assert_same_bundle(live: bundle.State, folded: bundle.State) -> None:
    """Every projection state equal (facts, counters, retractions), and the same events/position."""
    for name in PROJECTIONS:
        assert getattr(live, name) == getattr(folded, name), f"projection {name} differs from the fold"
    assert (live.events, live.last_position) == (folded.events, folded.last_position)
