"""ekb (month-end stock, flows, reconciliation) and workload (arbetsmängdsmätning)."""

from __future__ import annotations

import random
from datetime import date, datetime
from fractions import Fraction

from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, Period, end_of_day
from projections import ekb, workload
from projections.bitemporal import known_at
from tests.unit.builders import retracted
from tests.unit.event_builders_economy import ekb_status, workload_measured

H1 = Period(date(2021, 1, 1), date(2021, 6, 30))


def ekb_sample() -> list[Event]:
    return [
        ekb_status("E-01", "2020-05-01", "asylum_seeker", sex="female"),
        ekb_status("E-01", "2021-02-10", "municipality_placed", sex="female"),  # status change, not a flow
        ekb_status("E-02", "2020-06-01", "municipality_placed", sex="male"),
        ekb_status("E-02", "2021-03-31", "ended", sex="male"),
        ekb_status("E-03", "2021-04-15", "asylum_seeker", sex="male"),
        ekb_status("E-04", "2020-01-01", "municipality_placed", sex="male"),
        ekb_status("E-04", "2020-09-01", "ended", sex="male"),
        ekb_status("E-04", "2021-05-05", "municipality_placed", sex="male"),
    ]  # back in: inflow


def test_month_end_stock_by_status_and_sex() -> None:
    state = ekb.fold(ekb_sample())
    assert ekb.month_end_stock(state, Month(2021, 1)) == {
        ("asylum_seeker", "female"): 1,
        ("municipality_placed", "male"): 1,
    }
    assert ekb.month_end_stock(state, Month(2021, 3)) == {("municipality_placed", "female"): 1}
    assert ekb.month_end_stock(state, Month(2021, 6)) == {
        ("municipality_placed", "female"): 1,
        ("asylum_seeker", "male"): 1,
        ("municipality_placed", "male"): 1,
    }


def test_flows_count_entries_and_endings_but_not_status_changes() -> None:
    flows = ekb.flows(ekb.fold(ekb_sample()), H1)
    assert (flows.opening, flows.inflow, flows.outflow, flows.transfers, flows.closing) == (2, 2, 1, 1, 3)
    assert not ekb.flow_check(ekb.fold(ekb_sample()), H1).flagged


def test_reconciliation_flags_any_difference() -> None:
    check = ekb.reconcile(68, 7, 25, 51)
    assert (check.expected_closing, check.difference, check.flagged) == (50, 1, True)
    assert not ekb.reconcile(69, 7, 25, 51).flagged


def test_back_registered_status_restates_the_opening_stock() -> None:
    late = ekb_status(
        "E-09",
        "2020-12-20",
        "asylum_seeker",
        sex="female",
        recorded_at=datetime(2021, 3, 2, tzinfo=STOCKHOLM),
    )
    events = [*ekb_sample(), late]
    published = ekb.fold(known_at(events, end_of_day(date(2021, 1, 10))))
    opening = sum(ekb.month_end_stock(published, Month(2020, 12)).values())
    check = ekb.flow_check(ekb.fold(events), H1, published_opening=opening)
    assert (opening, check.difference, check.flagged) == (2, 1, True)


def test_retracted_status_is_ignored_and_same_day_order_follows_record_time() -> None:
    wrong = ekb_status("E-05", "2021-02-01", "ended")
    events = [ekb_status("E-05", "2021-01-05", "asylum_seeker"), wrong, retracted(wrong, "2021-02-03")]
    assert sum(ekb.month_end_stock(ekb.fold(events), Month(2021, 2)).values()) == 1
    same_day = [
        ekb_status("E-06", "2021-01-05", "ended", recorded_at=datetime(2021, 1, 5, 15, tzinfo=STOCKHOLM)),
        ekb_status(
            "E-06", "2021-01-05", "asylum_seeker", recorded_at=datetime(2021, 1, 5, 9, tzinfo=STOCKHOLM)
        ),
    ]
    assert sum(ekb.month_end_stock(ekb.fold(same_day), Month(2021, 1)).values()) == 0


def test_ekb_merge_equals_the_fold() -> None:
    events = ekb_sample()
    whole = ekb.fold(events)
    rng = random.Random(3)
    left = {s for s in {e.stream_id for e in events} if rng.random() < 0.5}
    merged = ekb.merge(
        ekb.fold(e for e in events if e.stream_id in left),
        ekb.fold(e for e in events if e.stream_id not in left),
    )
    assert merged == whole and ekb.flows(merged, H1) == ekb.flows(whole, H1)


# --- workload -------------------------------------------------------------------------------------


def test_workload_indicator_is_the_unweighted_mean_per_year_and_area() -> None:
    events = [
        workload_measured("authority", "2021-03-01", 9, 110),
        workload_measured("authority", "2021-05-20", 20, 100),
        workload_measured("outpatient", "2021-03-01", 9, 90),
        workload_measured("outpatient", "2020-12-01", 48, 50),
    ]
    state = workload.fold(events)
    assert workload.indicator(state, 2021) == 100
    assert workload.indicator(state, 2021, "authority") == 105
    assert workload.indicator(state, 2019) is None


def test_re_measurement_replaces_and_retraction_invalidates() -> None:
    first = workload_measured("authority", "2021-03-01", 9, 140)
    events: list[Event] = [
        first,
        workload_measured("authority", "2021-03-04", 9, 120),
        workload_measured("outpatient", "2021-03-01", 9, 80),
    ]
    assert workload.indicator(workload.fold(events), 2021) == 100
    bad = events[2]
    assert workload.indicator(workload.fold([*events, retracted(bad, "2021-03-10")]), 2021) == 120


def test_measurements_outside_the_80_120_band() -> None:
    events = [
        workload_measured("a", "2021-03-01", 9, 79),
        workload_measured("b", "2021-03-01", 9, 120),
        workload_measured("c", "2021-03-01", 9, "120.5"),
    ]
    outside = workload.outside_band(workload.fold(events), 2021)
    assert [(m.area, m.value_percent) for m in outside] == [("a", 79), ("c", Fraction(241, 2))]


def test_workload_merge_is_the_union() -> None:
    a = [workload_measured("a", "2021-03-01", 9, 100)]
    b = [workload_measured("b", "2021-03-01", 9, 110)]
    assert workload.merge(workload.fold(a), workload.fold(b)) == workload.fold(a + b)
