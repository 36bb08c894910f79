"""The event-store contract, one suite run against the in-memory fake, SQLite (a file) and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from events import Event, decode_dict, encode, to_dict
from services.store import ConcurrencyError, EventStore, StoreError, open_store
from services.store.tables import events_table
from tests.unit.builders import envelope

StoreFactory = Callable[..., EventStore]
LATE_MARCH = "2021-03-15T10:00:00+01:00"


def _data(n: int, person: str | None = None) -> dict[str, Any]:
    return {"person": person or f"P-{n:05d}", "channel": "report", "target_group": "children",
            "sex": "female"}


def actualised(n: int, *, stream: str | None = None, recorded_at: str | datetime = LATE_MARCH,
               person: str | None = None) -> Event:
    """A valid case.actualised with event id UUID(int=n), through the real codec."""
    return envelope("case.actualised", stream or f"case:{n}", "2021-03-01", _data(n, person),
                    recorded_at=recorded_at, event_id=uuid.UUID(int=n))


def without_recorded_at(n: int) -> Event:
    return decode_dict({"event_id": str(uuid.UUID(int=n)), "type": "case.actualised",
                        "stream_id": f"case:{n}", "municipality": "1880", "occurred_at": "2021-03-01",
                        "data": _data(n)})


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on one fresh location of the parametrized kind; all are closed afterwards."""
    kind = request.param
    url = {"memory": "memory://", "sqlite": f"sqlite:///{tmp_path / 'store.db'}"}.get(kind)
    if url is None:
        url = request.getfixturevalue("pg_fresh_url")
    opened: list[EventStore] = []
    shared: EventStore | None = None

    def factory(**options: Any) -> EventStore:
        nonlocal shared
        if kind == "memory":  # one memory store stands for "the same database"
            shared = shared or open_store(url, **options)
            return shared
        opened.append(open_store(url, **options))
        return opened[-1]

    yield factory
    for store in opened + ([shared] if shared else []):
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> EventStore:
    return make_store()


def wire(event: Event) -> dict[str, Any]:
    out = to_dict(event)
    out.pop("appended_at")
    return out


def test_append_then_read_in_order_with_gap_free_positions(store: EventStore) -> None:
    batch = [actualised(i) for i in range(1, 8)]
    result = store.append(batch[:3])
    store.append(batch[3:])
    read = list(store.read_all())
    assert [e.position for e in read] == list(range(1, 8))
    assert [e.event_id for e in read] == [e.event_id for e in batch]
    assert [wire(e) for e in result.accepted] == [wire(e) for e in read[:3]]
    assert all(e.appended_at is not None and e.appended_at.utcoffset() == timedelta(0) for e in read)
    assert [e.position for e in store.read_all(after=5)] == [6, 7]
    assert [e.position for e in store.read_all(after=2, limit=3)] == [3, 4, 5]
    assert store.head() == 7


def test_empty_store_and_empty_batch(store: EventStore) -> None:
    assert store.head() == 0
    assert list(store.read_all()) == []
    assert store.append([]).accepted == []
    assert store.get(uuid.UUID(int=1)) is None
    assert store.stream_version("case:1") == 0
    assert store.read_stream("case:1") == []


def test_same_id_same_content_is_a_duplicate_stored_once(store: EventStore) -> None:
    store.append([actualised(1), actualised(2)])
    result = store.append([actualised(2), actualised(3), actualised(3)])
    assert [e.event_id for e in result.accepted] == [uuid.UUID(int=3)]
    assert result.duplicates == [uuid.UUID(int=2), uuid.UUID(int=3)]
    assert result.conflicts == []
    assert [e.position for e in store.read_all()] == [1, 2, 3]


def test_same_id_other_content_is_a_conflict_naming_the_id(store: EventStore) -> None:
    store.append([actualised(1)])
    result = store.append([actualised(2), actualised(1, person="P-other")])
    assert [e.event_id for e in result.accepted] == [uuid.UUID(int=2)]
    assert len(result.conflicts) == 1 and str(uuid.UUID(int=1)) in result.conflicts[0]
    assert result.conflict_ids == [uuid.UUID(int=1)]
    stored = store.get(uuid.UUID(int=1))
    assert stored is not None and stored.data.model_dump()["person"] == "P-00001"
    assert store.head() == 2


def test_retry_of_an_event_without_recorded_at_is_a_duplicate(store: EventStore) -> None:
    first = store.append([without_recorded_at(1)])
    again = store.append([without_recorded_at(1)])
    assert len(first.accepted) == 1 and again.accepted == [] and again.duplicates == [uuid.UUID(int=1)]


def test_expected_version_accepts_the_right_one_and_refuses_the_wrong_one(store: EventStore) -> None:
    store.append([actualised(1, stream="case:A")], expected_version={"case:A": 0})
    store.append([actualised(2, stream="case:A")], expected_version={"case:A": 1})
    with pytest.raises(ConcurrencyError) as caught:
        store.append([actualised(3, stream="case:A"), actualised(4, stream="case:B")],
                     expected_version={"case:A": 1, "case:B": 0})
    message = str(caught.value)
    assert "case:A" in message and "expected version 1" in message and "version 2" in message
    assert store.head() == 2 and store.stream_version("case:B") == 0
    assert store.stream_version("case:A") == 2
    with pytest.raises(ConcurrencyError, match="case:A"):
        store.append([], expected_version={"case:A": 5})


def test_a_failing_batch_stores_nothing(store: EventStore) -> None:
    future = datetime.now(UTC) + timedelta(days=1)
    bad = actualised(3, recorded_at=future)
    with pytest.raises(StoreError) as caught:
        store.append([actualised(1), actualised(2), bad, actualised(4)])
    assert str(bad.event_id) in str(caught.value)
    assert store.head() == 0 and list(store.read_all()) == [] and store.get(uuid.UUID(int=1)) is None
    store.append([actualised(1)])
    assert [e.position for e in store.read_all()] == [1]


def test_store_fields_may_not_be_given(store: EventStore) -> None:
    with pytest.raises(StoreError, match=str(uuid.UUID(int=1))):
        store.append([actualised(1).model_copy(update={"position": 9})])


def test_future_recorded_at_is_refused_within_skew_is_accepted(store: EventStore) -> None:
    near = datetime.now(UTC) + timedelta(minutes=1)
    assert len(store.append([actualised(1, recorded_at=near)]).accepted) == 1
    with pytest.raises(StoreError, match=f"{uuid.UUID(int=2)}.*future"):
        store.append([actualised(2, recorded_at=datetime.now(UTC) + timedelta(minutes=6))])


def test_recorded_at_defaults_to_the_append_time(store: EventStore) -> None:
    [accepted] = store.append([without_recorded_at(1)]).accepted
    [read] = list(store.read_all())
    assert read.recorded_at is not None and read.recorded_at == read.appended_at == accepted.appended_at
    assert accepted.recorded_at == read.recorded_at


def test_read_stream_and_stream_version(store: EventStore) -> None:
    store.append([actualised(1, stream="case:A"), actualised(2, stream="case:B"),
                  actualised(3, stream="case:A")])
    store.append([actualised(4, stream="case:A")])
    assert [e.event_id.int for e in store.read_stream("case:A")] == [1, 3, 4]
    assert [e.position for e in store.read_stream("case:A")] == [1, 3, 4]
    assert store.stream_version("case:A") == 3 and store.stream_version("case:B") == 1


def test_known_at_sees_a_late_registration_only_from_its_recorded_at(store: EventStore) -> None:
    store.append([actualised(1, recorded_at="2021-03-10T09:00:00+01:00"),
                  actualised(2, recorded_at="2021-04-01T09:00:00+02:00")])
    store.append([actualised(3, recorded_at="2021-03-05T12:00:00+01:00")])  # back-registered, appended last
    at = datetime(2021, 3, 20, tzinfo=UTC)
    assert [e.event_id.int for e in store.read_all(known_at=at)] == [1, 3]
    assert [e.position for e in store.read_all(known_at=at)] == [1, 3]
    assert [e.event_id.int for e in store.read_all(known_at=datetime(2021, 3, 5, 11, 0, tzinfo=UTC))] == [3]
    edge = datetime(2021, 3, 10, 8, 0, tzinfo=UTC)  # exactly event 1's recorded_at: included
    assert [e.event_id.int for e in store.read_all(known_at=edge)] == [1, 3]
    assert [e.event_id.int for e in store.read_all(known_at=edge - timedelta(microseconds=1))] == [3]
    assert [e.event_id.int for e in store.read_all(after=1, known_at=at)] == [3]


def test_get_and_head(store: EventStore) -> None:
    store.append([actualised(1), actualised(2)])
    got = store.get(uuid.UUID(int=2))
    assert got is not None and got.position == 2 and wire(got) == wire(next(store.read_all(after=1)))
    assert store.get(uuid.UUID(int=99)) is None
    assert store.head() == 2


def test_pagination_across_page_boundaries(make_store: StoreFactory) -> None:
    store = make_store(page_size=3)
    store.append([actualised(i, recorded_at="2021-03-01" if i % 2 else "2021-05-01") for i in range(1, 12)])
    assert [e.position for e in store.read_all()] == list(range(1, 12))
    assert [e.position for e in store.read_all(after=2, limit=7)] == list(range(3, 10))
    assert [e.position for e in store.read_all(limit=6)] == list(range(1, 7))
    assert [e.position for e in store.read_all(after=11)] == []
    odd = [e.position for e in store.read_all(known_at=datetime(2021, 4, 1, tzinfo=UTC))]
    assert odd == [1, 3, 5, 7, 9, 11]
    april = datetime(2021, 4, 1, tzinfo=UTC)
    assert [e.position for e in store.read_all(after=3, limit=3, known_at=april)] == [5, 7, 9]


def test_a_second_handle_sees_the_same_store(make_store: StoreFactory) -> None:
    first = make_store()
    first.append([actualised(1), actualised(2)])
    second = make_store()
    assert second.head() == 2 and second.append([actualised(2)]).duplicates == [uuid.UUID(int=2)]
    assert [e.position for e in second.append([actualised(3)]).accepted] == [3]
    assert first.head() == 3


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_payload_column_holds_the_canonical_bytes(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}" if kind == "sqlite" else request.getfixturevalue("pg_fresh_url")
    store = open_store(url)
    try:
        [accepted] = store.append([actualised(1)]).accepted
    finally:
        store.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stored = conn.execute(select(events_table.c.payload)).scalar_one()
    finally:
        engine.dispose()
    assert bytes(stored) == encode(accepted, with_store_fields=False)


def test_unknown_url_and_missing_directory_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="unknown store URL"):
        open_store("mysql://x")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'nope' / 'store.db'}")


@pytest.mark.postgres
def test_unreachable_postgresql_is_a_store_error_without_the_password(pg_server: Any) -> None:
    url = f"postgresql://{pg_server.user}:secret@{pg_server.host}:{pg_server.port}/no_such_database"
    with pytest.raises(StoreError, match="cannot open the store") as caught:
        open_store(url)
    assert "no_such_database" in str(caught.value) and "secret" not in str(caught.value)
