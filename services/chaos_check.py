"""The end check of a chaos run: the read model against the store it was fed from.

* **lost** (förlorade händelser): store events the read model misses — an event none of whose
  relevant projections holds its fact row, or that no partition's position counter applied;
* **doubled** (dubbelräknade): messages applied more often than the store has events (the position
  table's per-projection counts above the store head) plus fact rows at positions the store does not
  hold;
* **reports equal**: every report (`services.reports.REPORT_NAMES`) built from the read model's bundle
  equals the same report built from a fold of the store, and so does every projection state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.engine import Engine

from events.timeutil import Period
from projections import bundle
from services.readmodel.facts import relevant
from services.readmodel.persist import generations
from services.readmodel.source import applied_totals, bundle_from_readmodel
from services.readmodel.tables import PROJECTIONS, fact_table
from services.reports import REPORT_NAMES, bundle_from_store, report_from_bundle
from services.settings import Settings
from services.store.base import EventStore


@dataclass
class Comparison:
    events: int  # events in the store (its head)
    lost: int
    doubled: int
    reports_equal: bool
    differing: list[str]  # projections and reports that differ from the fold


def fact_positions(engine: Engine) -> dict[str, set[int]]:
    """{projection: store positions of its fact rows} in the live generation."""
    out: dict[str, set[int]] = {}
    with engine.connect() as conn:
        gens = generations(conn)
        for projection in PROJECTIONS:
            t = fact_table(projection, gens[projection])
            out[projection] = set(conn.execute(select(t.c.position)).scalars())
    return out


def count_lost_doubled(store: EventStore, engine: Engine) -> tuple[int, int, int]:
    """(store events, lost, doubled) as the module docstring defines them."""
    facts = fact_positions(engine)
    head = store.head()
    lost_positions: set[int] = set()
    for event in store.read_all():
        position = event.position or 0
        if any(position not in facts[p] for p in relevant(event)):
            lost_positions.add(position)
    doubled = 0
    for projection in PROJECTIONS:
        applied, top = applied_totals(engine, projection)
        doubled += max(0, applied - head)
        doubled += sum(1 for p in facts[projection] if p > head or p < 1)
        if top < head:  # the tail after the highest applied position never arrived
            lost_positions.update(range(top + 1, head + 1))
    return head, len(lost_positions), doubled


def _reports(state: bundle.State, period: Period, settings: Settings) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in REPORT_NAMES:
        try:
            out[name] = report_from_bundle(state, name, period, settings)
        except Exception as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def compare(store: EventStore, engine: Engine, settings: Settings, period: Period) -> Comparison:
    """Lost / doubled counts and whether every projection and report equals the fold of the store."""
    head, lost, doubled = count_lost_doubled(store, engine)
    live, folded = bundle_from_readmodel(engine), bundle_from_store(store)
    differing = [p for p in PROJECTIONS if getattr(live, p) != getattr(folded, p)]
    mine, theirs = _reports(live, period, settings), _reports(folded, period, settings)
    differing += [f"report {n}" for n in REPORT_NAMES if mine[n] != theirs[n]]
    return Comparison(head, lost, doubled, not differing, differing)


def history_period(first: date, last: date) -> Period:
    """The business period the reports are compared over: the whole simulated span."""
    return Period(first, max(first, last))
