"""Stateful check: the SQLite store and the in-memory fake answer every sequence of operations alike.

Both get the same fixed clock, so even defaulted `recorded_at` and `appended_at` must agree; ids,
streams and contents come from small pools so duplicates, conflicts, version clashes and refused
future registrations happen often.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from events import Event, decode_dict, to_dict
from services.store import EventStore, StoreError, open_store

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
RECORDED = [None, "2021-03-01", "2021-06-01T08:30:00+02:00", (NOW + timedelta(days=1)).isoformat()]
STREAMS = ["case:a", "case:b", "case:c"]

item = st.tuples(st.integers(1, 6), st.sampled_from(STREAMS), st.integers(0, 1), st.sampled_from(RECORDED))
batches = st.lists(item, max_size=4)
expectations = st.none() | st.dictionaries(st.sampled_from(STREAMS), st.integers(0, 3), max_size=2)


def event(n: int, stream: str, variant: int, recorded_at: str | None) -> Event:
    raw: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=n)), "type": "case.actualised", "stream_id": stream,
        "municipality": "1880", "occurred_at": "2021-02-01",
        "data": {"person": f"P-{n}-{variant}", "channel": "report", "target_group": "adults", "sex": "male"},
    }
    if recorded_at is not None:
        raw["recorded_at"] = recorded_at
    return decode_dict(raw)


def outcome(store: EventStore, events: list[Event], expected: dict[str, int] | None) -> Any:
    try:
        result = store.append(events, expected_version=expected)
    except StoreError as exc:
        return type(exc).__name__, str(exc)
    return [to_dict(e) for e in result.accepted], result.duplicates, result.conflicts


class SqliteMatchesFake(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="casestream-model-"))
        self.fake = open_store("memory://", clock=lambda: NOW)
        self.real = open_store(f"sqlite:///{self.dir / 'store.db'}", clock=lambda: NOW, page_size=2)

    @rule(items=batches, expected=expectations)
    def append(self, items: list[tuple[int, str, int, str | None]], expected: dict[str, int] | None) -> None:
        events = [event(*i) for i in items]
        assert outcome(self.real, events, expected) == outcome(self.fake, events, expected)

    @rule(after=st.integers(0, 12), limit=st.none() | st.integers(0, 5),
          known_at=st.sampled_from([None, datetime(2021, 4, 1, tzinfo=UTC), NOW]))
    def read_all(self, after: int, limit: int | None, known_at: datetime | None) -> None:
        real = [to_dict(e) for e in self.real.read_all(after=after, limit=limit, known_at=known_at)]
        assert real == [to_dict(e) for e in self.fake.read_all(after=after, limit=limit, known_at=known_at)]

    @rule(stream=st.sampled_from(STREAMS), n=st.integers(1, 6))
    def read_one(self, stream: str, n: int) -> None:
        assert [to_dict(e) for e in self.real.read_stream(stream)] == [
            to_dict(e) for e in self.fake.read_stream(stream)]
        real, fake = self.real.get(uuid.UUID(int=n)), self.fake.get(uuid.UUID(int=n))
        assert (real and to_dict(real)) == (fake and to_dict(fake))

    @invariant()
    def same_head_and_versions(self) -> None:
        assert self.real.head() == self.fake.head()
        for s in STREAMS:
            assert self.real.stream_version(s) == self.fake.stream_version(s)

    def teardown(self) -> None:
        self.real.close()
        self.fake.close()
        shutil.rmtree(self.dir, ignore_errors=True)


SqliteMatchesFake.TestCase.settings = settings(
    max_examples=20, stateful_step_count=10, deadline=None, database=None)
test_sqlite_matches_fake = SqliteMatchesFake.TestCase
