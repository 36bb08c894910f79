"""The access log as events (services.access_log) and the monthly logguppföljning (services.access_review).

The log review is checked on hand-placed views whose every figure can be counted by eye: two users in
April 2021 (Stockholm time, CEST = UTC+2), one view in March and one in May that do not belong to April.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from uuid import UUID

import pytest

from events.access import AccessViewed
from events.codec import decode, encode
from events.timeutil import Month, Period
from services.access_log import AccessLog, View, stream_of, view_event
from services.access_review import log_review, outside_office_hours, parse_month
from services.queries_access import recent_months, record_view, review_table
from services.store import open_store

APRIL = Month(2021, 4)
Q1 = Period(date(2021, 1, 1), date(2021, 3, 31))


def at(day: int, hour: int, minute: int = 0, month: int = 4) -> datetime:
    return datetime(2021, month, day, hour - 2, minute, tzinfo=UTC)  # hour is Stockholm (CEST) time


def unit_view(subject: str, unit: str | None, role: str = "enhet") -> View:
    return View(subject, role, "belaggning", "unit", unit_id=unit, period=Q1)  # type: ignore[arg-type]


def event(seen: View, when: datetime, n: int) -> object:
    return view_event(seen, at=when, municipality="1880", event_id=UUID(int=n))


VIEWS = [  # Tue 6 Apr .. Sun 11 Apr 2021
    (unit_view("u-anna", "hemmet"), at(6, 8, 15)),
    (unit_view("u-anna", "lilla"), at(6, 17, 59)),
    (unit_view("u-anna", None), at(6, 18, 0)),  # 18:00 is outside
    (unit_view("u-anna", "hemmet"), at(7, 6, 59)),  # before 07:00: outside
    (View("local:root", "controller", "report:occupancy", "raw", channel="cli", period=Q1), at(8, 9)),
    (unit_view("u-bo", "hemmet"), at(10, 10)),  # Saturday: outside
    (View("local:root", "controller", "logguppfoljning", "log"), at(9, 12)),
    (unit_view("u-anna", "other"), at(31, 12, month=3)),  # March: not in April's review
    (unit_view("u-bo", "x"), at(1, 12, month=5)),  # May
]


def review(many_units: int = 5):  # type: ignore[no-untyped-def]
    events = [event(v, when, n) for n, (v, when) in enumerate(VIEWS, start=1)]
    report = log_review(events, APRIL, many_units=many_units)  # type: ignore[arg-type]
    return {r["subject"]: r for r in report.rows}, report


def test_office_hours_are_weekdays_seven_to_eighteen_in_stockholm() -> None:
    assert not outside_office_hours(at(6, 7, 0)) and not outside_office_hours(at(6, 17, 59))
    assert outside_office_hours(at(6, 18, 0)) and outside_office_hours(at(6, 6, 59))
    assert outside_office_hours(at(10, 12)) and outside_office_hours(at(11, 12))  # Saturday, Sunday
    winter = datetime(2021, 1, 5, 6, 30, tzinfo=UTC)  # 07:30 CET
    assert not outside_office_hours(winter)


def test_log_review_per_user() -> None:
    rows, report = review()
    assert list(rows) == ["local:root", "u-anna", "u-bo", "Totalt"]
    anna = rows["u-anna"]
    assert (anna["views"], anna["unit_views"], anna["raw_views"], anna["distinct_units"]) == (4, 4, 0, 2)
    assert anna["outside_office_hours"] == 2
    assert (anna["first_view"], anna["last_view"]) == ("2021-04-06 08:15", "2021-04-07 06:59")
    assert anna["flags"] == "utanför kontorstid" and anna["roles"] == "enhet"
    root = rows["local:root"]
    assert (root["views"], root["unit_views"], root["raw_views"]) == (2, 0, 1)
    assert root["outside_office_hours"] == 0
    assert root["flags"] == "råa uttag" and root["roles"] == "controller"
    assert (rows["u-bo"]["views"], rows["u-bo"]["outside_office_hours"]) == (1, 1)
    total = rows["Totalt"]
    assert (total["views"], total["unit_views"], total["distinct_units"]) == (7, 5, 2)
    assert total["row_type"] == "total"
    assert (total["first_view"], total["last_view"]) == ("2021-04-06 08:15", "2021-04-10 10:00")
    assert report.title_sv == "Logguppföljning 2021-04"
    assert "3 av 3 användare flaggade" in report.notes[0]
    assert [c.label_sv for c in report.columns][:3] == ["Användare (subjekt)", "Roll", "Antal visningar"]


def test_many_units_is_flagged_above_the_setting() -> None:
    rows, _ = review(many_units=1)
    assert rows["u-anna"]["flags"] == "utanför kontorstid, många enheter"
    assert "många enheter" not in rows["u-bo"]["flags"]


def test_month_argument() -> None:
    assert parse_month("2021-04") == APRIL
    for bad in ("2021-4", "2021-13", "april"):
        with pytest.raises(ValueError, match=f"--month: '{bad}' is not a month; write YYYY-MM"):
            parse_month(bad)
    assert recent_months(at(6, 12), 3) == [APRIL, Month(2021, 3), Month(2021, 2)]
    assert recent_months(datetime(2021, 1, 5, tzinfo=UTC), 2) == [Month(2021, 1), Month(2020, 12)]


def test_a_view_event_is_valid_wire_format_and_names_no_figure() -> None:
    e = event(unit_view("u-anna", "hemmet"), at(6, 8, 15), 1)
    again = decode(encode(e))  # type: ignore[arg-type]
    assert again == e and isinstance(again.data, AccessViewed)
    assert again.stream_id == stream_of(APRIL) == "access:2021-04"
    assert again.recorded_at == again.occurred_at == at(6, 8, 15)
    assert set(again.data.model_dump()) == {"subject", "role", "view", "level", "channel", "unit_id",
                                            "period_start", "period_end", "known_at", "session"}
    late = event(unit_view("u-anna", None), datetime(2021, 4, 30, 22, 30, tzinfo=UTC), 2)  # 1 May 00:30
    assert late.stream_id == "access:2021-05"  # type: ignore[attr-defined]


def test_views_go_to_the_store_once_per_change_and_the_review_reads_them_back(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    clock = iter([at(6, 9), at(6, 10), at(6, 11)])
    log = AccessLog(store, "1880", clock=lambda: next(clock))
    try:
        key = record_view(log, None, unit_view("u-anna", "hemmet"))
        key = record_view(log, key, unit_view("u-anna", "hemmet"))  # a rerun: not a new view
        key = record_view(log, key, unit_view("u-anna", "lilla"))  # another unit: a new view
        key = record_view(log, None, unit_view("u-anna", "lilla"))  # back after another page: new
        assert store.head() == 3
        events = log.month(APRIL)
        assert [e.data.unit_id for e in events] == ["hemmet", "lilla", "lilla"]  # type: ignore[attr-defined]
        table = review_table(log, APRIL, 5)
        anna = next(r for r in table.rows if r["subject"] == "u-anna")
        assert (anna["views"], anna["distinct_units"]) == (3, 2)
        assert "row_type" not in table.visible
    finally:
        log.close()


def test_concurrent_sessions_each_get_their_event(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    log = AccessLog(store)  # municipality from the store's first event; an empty store has none

    def many(subject: str) -> None:
        for i in range(25):
            log.record(unit_view(subject, f"unit-{i}"))

    threads = [threading.Thread(target=many, args=(f"u-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert store.head() == 100
        assert {e.municipality for e in store.read_all()} == {"0000"}
    finally:
        log.close()


def test_no_projection_reads_access_events() -> None:
    from projections import bundle
    from services.readmodel.facts import decode_stored, relevant
    from tests.unit import ui_seed

    seed = ui_seed.all_events()
    views = [event(v, when, 1000 + n) for n, (v, when) in enumerate(VIEWS)]
    plain, mixed = bundle.fold(seed), bundle.fold([*seed[:10], *views, *seed[10:]])  # type: ignore[list-item]
    assert mixed.events == plain.events + len(views)
    mixed.events = plain.events
    assert mixed == plain
    stored = views[0].model_copy(update={"position": 7})  # type: ignore[attr-defined]
    assert relevant(decode_stored(encode(stored))) == ()  # the worker writes no fact row for it


def test_a_logged_view_does_not_explain_an_as_of_difference() -> None:
    from services.queries_asof import explaining_changes
    from services.queries_source import StoreSource

    store = open_store("memory://")
    when = datetime.now(UTC)
    store.append([event(unit_view("u-anna", "hemmet"), when, 1)])  # type: ignore[list-item]
    source = StoreSource(store)
    today = when.date()
    assert explaining_changes(source, date(2021, 1, 1), Period(date(2021, 1, 1), today)) == ()
