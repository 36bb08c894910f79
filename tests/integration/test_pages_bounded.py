"""A municipality's scope as known at a time is read no further than its last row (`pages.bounded`).

The bound comes from the (municipality, recorded_at) index. It must be exactly the last position of
a row of the municipality recorded by known-at (a row registered late, appended after rows recorded
later, included), or the scope's own upper position if lower, on SQLite and PostgreSQL; and a replay
read up to it must give the decoded fold, which reads every row.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from events import Event
from events.timeutil import STOCKHOLM, end_of_day
from services.audit import pages
from services.audit.pages import Bound, bounded, bounded_from
from services.audit.source import Scope, sql_store
from services.store import open_store
from tests.integration.test_replay_fast import both, history, store_of, summary
from tests.unit import builders as b

LATE = datetime(2021, 9, 1, 9, tzinfo=STOCKHOLM)


def _late_registrations() -> list[Event]:
    """Placements of both municipalities recorded in spring, appended after everything else."""
    out = []
    for n, muni in enumerate(("1880", "1881", "1880")):
        day = date(2021, 3, 10 + n)
        out.append(b.placement_started(f"late:{n}", day, price=1500, recorded_at=datetime(
            day.year, day.month, day.day, 10, tzinfo=STOCKHOLM)).model_copy(update={"municipality": muni}))
    return out


def _truth(url: str, scope: Scope) -> int:
    """The last position of the municipality recorded by known-at, by a plain scan of every row (0:
    none), or the scope's own bound if that is lower."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT position, municipality, recorded_at FROM events")).all()
    finally:
        engine.dispose()
    cutoff = scope.known_at.astimezone(UTC) if scope.known_at is not None else None
    found = [pos for pos, muni, rec in rows if muni == scope.municipality
             and (cutoff is None or _utc(rec) <= cutoff)]
    return min(max(found, default=0), scope.upto if scope.upto is not None else 2**62)


def _utc(value: object) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _append(url: str, events: list[Event]) -> None:
    store = open_store(url, clock=lambda: LATE + timedelta(days=30))
    try:
        store.append(events)
    finally:
        store.close()


def _check_bounds(url: str) -> None:
    store = open_store(url)
    try:
        head, sql = store.head(), sql_store(store)
        assert sql is not None
        for known in (date(2021, 1, 31), date(2021, 3, 10), date(2021, 5, 31), date(2020, 6, 1)):
            for muni in ("1880", "1881", "0999"):
                for upto in (head, head - 2, head // 2):
                    scope = Scope(end_of_day(known), muni, upto=upto)
                    assert bounded(sql, scope) == Scope(scope.known_at, muni, upto=_truth(url, scope))
        spring = Scope(end_of_day(date(2021, 3, 31)), "1880", upto=head)
        assert bounded(sql, spring).upto == head  # the late registration appended last
        assert bounded(sql, Scope(end_of_day(date(2021, 3, 31)), "1881", upto=head)).upto == head - 1
        for unbounded in (Scope(end_of_day(date(2021, 3, 31))), Scope(None, "1880", upto=head)):
            assert bounded(sql, unbounded) == unbounded  # a whole store, or no record time: as given
    finally:
        store.close()


def test_the_bound_is_the_last_included_row_on_sqlite(tmp_path: Path) -> None:
    url = store_of(tmp_path / "store.db", history(6, 0.05))
    _append(url, _late_registrations())
    _check_bounds(url)
    head = open_store(url).head()
    scope = Scope(end_of_day(date(2021, 4, 30)), "1880", upto=head)
    store = open_store(url)
    try:
        sql = sql_store(store)
        assert sql is not None
        assert bounded(sql, Scope(end_of_day(date(2021, 2, 28)), "1881", upto=head)).upto < head - 40
    finally:
        store.close()
    fast, slow = both(url, scope)
    assert fast.digest.last_position == head and fast.digest.count > 50
    assert summary(fast) == summary(slow)


@pytest.mark.usefixtures("pg_server")
def test_the_bound_is_the_last_included_row_on_postgresql(pg_fresh_url: str) -> None:
    events = history(6, 0.02)
    store = open_store(pg_fresh_url, clock=lambda: datetime(2021, 8, 1, tzinfo=UTC))
    try:
        store.append(events)
    finally:
        store.close()
    _append(pg_fresh_url, _late_registrations())
    _check_bounds(pg_fresh_url)


KNOWN = (date(2021, 1, 31), date(2021, 3, 10), date(2021, 3, 31), date(2021, 5, 31))


def test_a_bound_from_an_earlier_replay_gives_the_same_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """`bounded_from` starts from a checkpoint's Bound (an earlier or the same known-at, an earlier head):
    the same as `bounded` and the scan of every row, also with late registrations appended since."""
    url = store_of(tmp_path / "store.db", history(6, 0.05))
    store = open_store(url)
    try:
        sql = sql_store(store)
        assert sql is not None
        old = sql.head()
        hints = {(k, m): Bound(end_of_day(k), bounded(sql, Scope(end_of_day(k), m, upto=old)).upto or 0, old)
                 for k in KNOWN for m in ("1880", "1881")}
    finally:
        store.close()
    _append(url, _late_registrations())  # recorded in March, appended after: above the hints' head
    store = open_store(url)
    try:
        sql = sql_store(store)
        assert sql is not None
        head = sql.head()
        for (since, muni), hint in hints.items():
            for known in KNOWN:
                scope = Scope(end_of_day(known), muni, upto=head)
                want = _truth(url, scope)
                assert bounded_from(sql, scope, hint).upto == want, (since, known, muni)
                monkeypatch.setattr(pages, "NEAR", 0)  # too far appended since: `bounded` itself
                assert bounded_from(sql, scope, hint).upto == want
                monkeypatch.undo()
        for muni in ("1880", "1881"):
            for earlier, later in pairwise(KNOWN):
                scope = Scope(end_of_day(later), muni, upto=head)
                after = pages.prefix_end(sql, Scope(end_of_day(earlier), muni, upto=head))
                whole = pages.prefix_end(sql, scope)
                assert pages.prefix_end(sql, scope, after=after) == whole, (muni, earlier)
    finally:
        store.close()
