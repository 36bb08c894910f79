"""The read-model source: rebuild `projections.bundle.State` from the fact tables, and the query functions.

Each projection's state is the pure fold of its fact rows in position order — the same function over
the same facts, in the same order, as a fold of the store (the store feeds a projection every event,
but `apply` ignores the ones that are not its facts). So `casestream report --source readmodel` and
`--source store` agree by construction once the workers have caught up, and a test proves it.
Rows merged from several partitions (several workers) are a union keyed by store position, ordered by the
global position, so N workers give exactly one worker's state.

`events` and `last_position` of the bundle come from the position table (every message applied,
all types); with `known_at` they count the facts recorded by then.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from events import Event
from events.timeutil import Period
from projections import bundle
from projections.reports.base import Report
from services.readmodel.facts import MODULES, decode_stored
from services.readmodel.persist import generations, micros
from services.readmodel.tables import PROJECTIONS, ProjectionPosition, fact_table
from services.settings import Settings


def fact_events(
    engine: Engine, projection: str, known_at: datetime | None = None, generation: int | None = None
) -> Iterator[Event]:
    """The facts of one projection as events, in position order (recorded by `known_at` when given)."""
    with engine.connect() as conn:
        gen = generations(conn)[projection] if generation is None else generation
        t = fact_table(projection, gen)
        query = select(t.c.body).order_by(t.c.position)
        if known_at is not None:
            query = query.where(t.c.recorded_us <= micros(known_at))
        for (body,) in conn.execute(query).yield_per(5000):
            yield decode_stored(body)


def projection_state(engine: Engine, projection: str, known_at: datetime | None = None) -> object:
    module = MODULES[projection]
    return module.fold(fact_events(engine, projection, known_at))


def bundle_from_readmodel(engine: Engine, known_at: datetime | None = None) -> bundle.State:
    """The bundle of every projection, read off the read model (as known at `known_at`, when given)."""
    state = bundle.State()
    facts = 0
    last = 0
    for projection in PROJECTIONS:
        part = MODULES[projection].State()
        for event in fact_events(engine, projection, known_at):
            MODULES[projection].apply(part, event)
            facts += 1
            last = max(last, event.position or 0)
        setattr(state, projection, part)
    if known_at is None:
        applied, top = applied_totals(engine)
        state.events, state.last_position = applied, top
    else:
        state.events, state.last_position = facts, last
    return state


def applied_totals(engine: Engine, projection: str = PROJECTIONS[0]) -> tuple[int, int]:
    """(messages applied, highest position applied) over all partitions of one projection."""
    t = ProjectionPosition.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(
            select(func.coalesce(func.sum(t.c.events), 0), func.coalesce(func.max(t.c.position), 0)).where(
                t.c.projection == projection
            )
        ).one()
    return int(row[0]), int(row[1])


def positions_by_partition(engine: Engine, projection: str = PROJECTIONS[0]) -> dict[int, int]:
    """{partition: highest store position applied} — what the UI shows as freshness."""
    t = ProjectionPosition.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        rows = conn.execute(select(t.c.partition, t.c.position).where(t.c.projection == projection)).all()
    return {int(p): int(pos) for p, pos in rows}


def report_from_readmodel(
    settings: Settings, name: str, period: Period, known_at: datetime | None = None
) -> Report:
    """`casestream report --source readmodel`: the report builder over the bundle read off the read model."""
    from services.readmodel.persist import open_readmodel, readmodel_url
    from services.reports import report_from_bundle

    engine = open_readmodel(readmodel_url(settings))
    try:
        return report_from_bundle(bundle_from_readmodel(engine, known_at), name, period, settings)
    finally:
        engine.dispose()


def fact_count(engine: Engine, projection: str) -> int:
    with engine.connect() as conn:
        t = fact_table(projection, generations(conn)[projection])
        return int(conn.execute(select(func.count()).select_from(t)).scalar_one())
