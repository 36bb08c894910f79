"""investigations: opened/closed per month, duration histograms (exact median), overdue, merge,
retractions."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime
from fractions import Fraction

from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, Period, end_of_day
from projections import investigations as inv
from projections.bitemporal import known_at
from projections.reports.investigations import investigations_report
from tests.unit.builders import retracted
from tests.unit.event_builders_economy import investigation_closed, investigation_opened

H1 = Period(date(2021, 1, 1), date(2021, 6, 30))
MARCH = Period.of_month(Month(2021, 3))


def case(n: int, opened: str, closed: str | None, group: str = "children") -> list[Event]:
    out = [investigation_opened(f"case-{n}", f"u{n}", opened, target_group=group, person=f"P-{n}")]
    if closed is not None:
        out.append(investigation_closed(f"case-{n}", f"u{n}", closed))
    return out


def sample() -> list[Event]:
    return [
        *case(1, "2021-01-05", "2021-02-04"),
        *case(2, "2021-01-20", "2021-03-01", "youth"),
        *case(3, "2021-02-01", "2021-03-03", "adults"),
        *case(4, "2021-02-10", None),
        *case(5, "2021-03-01", "2021-06-28"),
        *case(6, "2020-12-01", None, "adults"),
        *case(7, "2021-03-15", "2021-03-25", "youth"),
    ]


def test_opened_and_closed_per_month_and_target_group() -> None:
    state = inv.fold(sample())
    assert inv.opened_per_month(state, H1) == {
        Month(2021, m): n for m, n in zip(range(1, 7), (2, 2, 2, 0, 0, 0), strict=True)
    }
    assert inv.opened_count(state, H1, "youth") == 2 and inv.opened_count(state, H1, "adults") == 1
    assert inv.closed_per_month(state, H1)[Month(2021, 3)] == 3
    assert inv.closed_count(state, MARCH, "youth") == 2  # closings count under the opening's target group


def test_durations_are_whole_days_with_exact_mean_and_median() -> None:
    state = inv.fold(sample())
    hist = inv.duration_histogram(state, H1)
    assert hist == Counter({30: 2, 40: 1, 10: 1, 119: 1})
    assert inv.mean_days(hist) == Fraction(30 + 40 + 30 + 119 + 10, 5)
    assert inv.median_days(hist) == 30
    assert inv.median_days(Counter({10: 1, 40: 1, 30: 2})) == 30
    assert inv.median_days(Counter({10: 1, 41: 1})) == Fraction(51, 2)  # even count: mean of the middle two
    assert inv.median_days(Counter()) is None and inv.mean_days(Counter()) is None
    assert inv.duration_histogram(state, MARCH, "youth") == Counter({40: 1, 10: 1})


def test_open_investigations_past_the_limit_on_a_day() -> None:
    state = inv.fold(sample())
    day = date(2021, 6, 15)
    assert [i.investigation_id for i in inv.overdue(state, day)] == ["u4", "u6"]  # 125 and 196 days; u5 106
    assert [i.investigation_id for i in inv.overdue(state, day, limit_days=150)] == ["u6"]
    assert [i.investigation_id for i in inv.overdue(state, day, limit_days=100)] == ["u4", "u5", "u6"]
    assert [i.investigation_id for i in inv.overdue(state, date(2021, 6, 28), 100)] == [
        "u4",
        "u6",
    ]  # u5 closed
    assert inv.overdue(state, date(2021, 3, 31)) == []  # u6 is exactly 120 days old: not past the limit
    assert inv.overdue(state, date(2021, 4, 1)) == [inv.resolve(state, "u6")]


def test_average_per_month_and_rolling_mean() -> None:
    events = [e for n in range(24) for e in case(100 + n, f"2020-{1 + n % 12:02d}-05", None)]
    state = inv.fold(events)
    assert inv.average_per_month(state, Period.year(2020)) == 2
    assert inv.average_per_month(state, Period(date(2020, 1, 1), date(2020, 8, 31))) == 2
    assert inv.rolling_mean(state, Month(2020, 12)) == 2 and inv.rolling_mean(state, Month(2021, 6)) == 1
    assert inv.rolling_mean(state, Month(2020, 6)) is None


def test_closing_before_its_opening_arrives_is_held_until_then() -> None:
    events = case(1, "2021-01-05", "2021-02-04")
    state = inv.fold(reversed(events))
    assert state.opened == inv.fold(events).opened and state.durations == inv.fold(events).durations
    lonely = inv.fold([investigation_closed("case-9", "u9", "2021-02-01")])
    assert inv.closed_count(lonely, H1) == 0 and [i.investigation_id for i in inv.inconsistent(lonely)] == [
        "u9"
    ]


def test_retracting_a_closing_reopens_and_retracting_an_opening_removes() -> None:
    opened, closed = case(1, "2021-01-05", "2021-02-04")
    state = inv.fold([opened, closed, retracted(closed, "2021-02-10")])
    assert inv.closed_count(state, H1) == 0 and inv.duration_histogram(state, H1) == Counter()
    assert inv.resolve(state, "u1").open_on(date(2021, 6, 1))
    inv.apply(state, retracted(opened, "2021-02-11"))
    assert inv.opened_count(state, H1) == 0 and not state.opened and not state.durations


def test_a_late_registered_closing_changes_the_past_only_as_known_now() -> None:
    opened = investigation_opened("case-1", "u1", "2021-01-05")
    closed = investigation_closed(
        "case-1", "u1", "2021-03-10", recorded_at=datetime(2021, 5, 3, tzinfo=STOCKHOLM)
    )
    events = [opened, closed]
    then = inv.fold(known_at(events, end_of_day(date(2021, 4, 30))))
    assert inv.closed_count(then, MARCH) == 0 and inv.closed_count(inv.fold(events), MARCH) == 1


def test_merge_of_disjoint_streams_equals_the_fold_and_histograms_add() -> None:
    events = sample()
    events.append(retracted(events[1], "2021-04-01"))  # u1's closing withdrawn
    whole = inv.fold(events)
    for seed in range(5):
        rng = random.Random(seed)
        left = {s for s in {e.stream_id for e in events} if rng.random() < 0.5}
        a = inv.fold(e for e in events if e.stream_id in left)
        b = inv.fold(e for e in events if e.stream_id not in left)
        merged = inv.merge(a, b)
        assert (merged.opened, merged.closed, merged.durations) == (
            whole.opened,
            whole.closed,
            whole.durations,
        )
        assert inv.investigations(merged) == inv.investigations(whole)
        assert inv.duration_histogram(merged, H1) == inv.duration_histogram(a, H1) + inv.duration_histogram(
            b, H1
        )
    overlap = inv.merge(inv.fold(events[:9]), inv.fold(events[5:]))
    assert (overlap.opened, overlap.closed, overlap.durations) == (
        whole.opened,
        whole.closed,
        whole.durations,
    )


def test_unique_persons_investigated() -> None:
    state = inv.fold(sample())
    assert inv.unique_persons(state, MARCH) == {"P-2", "P-3", "P-4", "P-5", "P-6", "P-7"}


def test_report_rows_and_total() -> None:
    report = investigations_report(inv.fold(sample()), H1)
    assert [r["row_type"] for r in report.rows] == ["detail"] * 6 + ["total"]
    total = report.rows[-1]
    assert total["opened_total"] == 6 and total["average_per_month"] == 1 and total["closed_total"] == 5
    assert total["median_days"] == 30 and total["overdue"] == 2  # u4 and u6 open at 30 June, past 120 days
    march = report.rows[2]
    assert (march["opened_total"], march["closed_total"], march["opened_youth"]) == (2, 3, 1)
    assert report.column("opened_total").label_sv == "Inledda utredningar totalt"
