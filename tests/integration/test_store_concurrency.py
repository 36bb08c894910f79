"""Concurrent appenders and a polling reader: the reader sees every event exactly once, in order, no gaps.

Several writer threads, each with its own store handle (its own connections, as separate processes
would have), append many small batches while a reader polls `read_all(after=last)` as fast as it can.
A store that handed out positions before serialising commits (a sequence) would let the reader see
n+1 before n and skip n forever; the reader checks every position it sees is exactly last + 1.
Sizes: `CASESTREAM_TEST_SCALE` (small in CI).
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from events import Event
from services.store import ConcurrencyError, EventStore, open_store
from tests.unit.builders import envelope

SCALE = {"small": 1, "medium": 4, "large": 20}[os.environ.get("CASESTREAM_TEST_SCALE", "small")]
WRITERS = 4
BATCHES = 30 * SCALE  # per writer


def batch(writer: int, number: int) -> list[Event]:
    size = 1 + (writer + number) % 4
    out = []
    for k in range(size):
        n = writer * 1_000_000 + number * 10 + k + 1
        data = {"person": f"P-{n}", "channel": "report", "target_group": "youth", "sex": "male"}
        out.append(envelope("case.actualised", f"case:w{writer}-{number}", "2021-03-01", data,
                            recorded_at="2021-03-02", event_id=uuid.UUID(int=n)))
    return out


class Reader(threading.Thread):
    """Polls `read_all(after=last)` until told to stop, then drains once more."""

    def __init__(self, store: EventStore) -> None:
        super().__init__(daemon=True)
        self.store = store
        self.stop = threading.Event()
        self.seen: list[Event] = []
        self.out_of_order: list[tuple[int, int | None]] = []  # (expected, got)
        self.error: BaseException | None = None

    def poll(self) -> None:
        last = self.seen[-1].position if self.seen else 0
        assert last is not None
        for event in self.store.read_all(after=last):
            if event.position != last + 1:
                self.out_of_order.append((last + 1, event.position))
            self.seen.append(event)
            last = event.position if event.position is not None else last

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.poll()
            self.poll()
        except BaseException as exc:
            self.error = exc


def write(url: str, writer: int, errors: list[BaseException]) -> None:
    store = open_store(url)
    try:
        for number in range(BATCHES):
            events = batch(writer, number)
            result = store.append(events, expected_version={events[0].stream_id: 0})
            assert len(result.accepted) == len(events)
    except BaseException as exc:
        errors.append(exc)
    finally:
        store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
    else:
        yield request.getfixturevalue("pg_fresh_url")


@pytest.mark.timeout(240)
def test_polling_reader_sees_every_event_once_in_position_order(url: str) -> None:
    open_store(url).close()  # create the schema before the race starts
    reader = Reader(open_store(url))
    reader.start()
    errors: list[BaseException] = []
    writers = [threading.Thread(target=write, args=(url, w, errors)) for w in range(WRITERS)]
    for t in writers:
        t.start()
    for t in writers:
        t.join()
    reader.stop.set()
    reader.join(timeout=120)
    reader.store.close()
    assert not errors, errors
    assert reader.error is None, reader.error
    expected = {e.event_id for w in range(WRITERS) for n in range(BATCHES) for e in batch(w, n)}
    assert reader.out_of_order == []
    assert [e.position for e in reader.seen] == list(range(1, len(expected) + 1))
    assert len({e.event_id for e in reader.seen}) == len(reader.seen)
    assert {e.event_id for e in reader.seen} == expected


@pytest.mark.timeout(120)
def test_racing_writers_on_one_stream_exactly_one_wins_each_version(url: str) -> None:
    """Writers that all read version v and append with expected_version=v: one succeeds, the rest
    get ConcurrencyError and retry at the new version; the stream ends up with every event once."""
    open_store(url).close()
    errors: list[BaseException] = []
    clashes = [0] * WRITERS

    def race(writer: int) -> None:
        store = open_store(url)
        try:
            for number in range(5 * SCALE):
                [event] = batch(writer, number)[:1]
                event = event.model_copy(update={"stream_id": "case:shared"})
                while True:
                    version = store.stream_version("case:shared")
                    try:
                        store.append([event], expected_version={"case:shared": version})
                        break
                    except ConcurrencyError:
                        clashes[writer] += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=race, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    store = open_store(url)
    try:
        stream = store.read_stream("case:shared")
        assert len(stream) == len({e.event_id for e in stream}) == WRITERS * 5 * SCALE
        assert [e.position for e in stream] == list(range(1, len(stream) + 1))
    finally:
        store.close()
