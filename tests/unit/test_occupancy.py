"""occupancy: capacity timelines, monthly occupancy, Ack variants, weighted totals, the report."""

from __future__ import annotations

import io
import json
from datetime import date
from fractions import Fraction

from rich.console import Console

from events.envelope import Event
from events.timeutil import Month, Period, end_of_day
from projections import care_costs, occupancy
from projections.bitemporal import known_at
from projections.occupancy_totals import PLACES_WEIGHTED, POOLED, REPORTED, by_kind, group_occupancy
from projections.reports.occupancy import occupancy_report
from services.render import render
from tests.unit.builders import retracted, stay, unit_capacity_set

JAN = Period.of_month(Month(2021, 1))
Q1 = Period(date(2021, 1, 1), date(2021, 3, 31))


def own_stay(pid: str, unit_id: str, start: str, end: str | None, person: str | None = None) -> list[Event]:
    return stay(pid, start, end, regime="own", unit_id=unit_id, person=person, price=0)


def occ(events: list[Event], period: Period = JAN, **kw: object) -> dict[str, occupancy.UnitOccupancy]:
    return occupancy.monthly_occupancy(occupancy.fold(events), care_costs.fold(events), period, **kw)  # type: ignore[arg-type]


def test_capacity_change_mid_month_and_occupied_nights() -> None:
    events = [unit_capacity_set("u", "2020-01-01", 10), unit_capacity_set("u", "2021-01-16", 12),
              *own_stay("a", "u", "2021-01-01", "2021-01-11"), *own_stay("b", "u", "2020-12-01", None)]
    jan = occ(events)["u"].months[0]
    assert (jan.available_place_days, jan.occupied_place_days) == (10 * 15 + 12 * 16, 10 + 31)
    assert jan.percent == Fraction(41 * 100, 342)
    assert occ(events)["u"].places == 12


def test_same_day_capacity_latest_registered_wins_and_retraction_reverts() -> None:
    first = unit_capacity_set("u", "2021-01-01", 10, recorded_at="2021-01-01")
    fix = unit_capacity_set("u", "2021-01-01", 5, recorded_at="2021-01-02")
    assert occ([fix, first])["u"].months[0].available_place_days == 5 * 31
    assert occ([first, fix, retracted(fix, "2021-01-03")])["u"].months[0].available_place_days == 10 * 31


def test_overbooking_is_kept_above_100() -> None:
    events = [unit_capacity_set("u", "2021-01-01", 4, kind="short_stay")]
    events += [e for i in range(5) for e in own_stay(f"s{i}", "u", "2021-01-01", "2021-02-01")]
    assert occ(events)["u"].months[0].percent == 125


def test_units_without_places_in_the_period_and_unknown_units() -> None:
    events = [unit_capacity_set("later", "2021-06-01", 8), unit_capacity_set("zero", "2020-01-01", 0),
              *own_stay("x", "ghost", "2021-01-05", None)]
    assert occ(events) == {}
    assert occupancy.unknown_units(occupancy.fold(events), care_costs.fold(events), JAN) == ["ghost"]
    report = occupancy_report(occupancy.fold(events), care_costs.fold(events), JAN)
    assert report.rows == [] and "ghost" in report.notes[0]


def test_month_without_places_is_none_and_left_out_of_ack() -> None:
    events = [unit_capacity_set("u", "2021-01-01", 2), unit_capacity_set("u", "2021-02-01", 0),
              unit_capacity_set("u", "2021-03-01", 2), *own_stay("a", "u", "2021-01-01", None)]
    u = occ(events, Q1)["u"]
    assert [m.percent for m in u.months] == [50, None, 50]
    assert u.accumulated_unweighted == 50 and u.occupied_places_per_day == Fraction(62, 62)


def test_data_through_marks_unreported_months() -> None:
    events = [unit_capacity_set("g", "2021-01-01", 6, kind="group"), *own_stay("a", "g", "2021-01-01", None)]
    u = occ(events, Q1, data_through=date(2021, 2, 28))["g"]
    assert [m.percent is None for m in u.months] == [False, False, True]


def test_individuals_measure_counts_distinct_enrolled_persons() -> None:
    events = [unit_capacity_set("g", "2021-01-01", 6, kind="group")]
    for i in range(7):  # seven people, each one week, the same person twice
        events += own_stay(f"k{i}", "g", f"2021-01-{1 + 3 * i:02d}", f"2021-01-{8 + 3 * i:02d}",
                           person=f"kbt-{min(i, 5)}")
    by_days = occ(events)["g"].months[0]
    by_persons = occ(events, measures={"group": "individuals"})["g"].months[0]
    assert by_days.percent == Fraction(49 * 100, 6 * 31)
    assert by_persons.individuals == 6 and by_persons.percent == 100


def two_units() -> dict[str, occupancy.UnitOccupancy]:
    events = [unit_capacity_set("big", "2021-01-01", 20, kind="long_stay"),
              unit_capacity_set("small", "2021-01-01", 4, kind="short_stay")]
    # big: 100 % all quarter; small: 50 % in January, then empty
    events += [e for i in range(20) for e in own_stay(f"b{i}", "big", "2021-01-01", None)]
    events += [e for i in range(2) for e in own_stay(f"s{i}", "small", "2021-01-01", "2021-02-01")]
    return occ(events, Q1)


def test_ack_unweighted_versus_day_weighted() -> None:
    small = two_units()["small"]
    assert small.accumulated_unweighted == Fraction(50, 3)
    assert small.accumulated_day_weighted == Fraction(62 * 100, 4 * 90)


def test_group_totals_unweighted_places_weighted_and_pooled() -> None:
    units = list(two_units().values())
    assert group_occupancy(units, REPORTED).accumulated == (100 + Fraction(50, 3)) / 2
    assert group_occupancy(units, PLACES_WEIGHTED).accumulated == (20 * 100 + 4 * Fraction(50, 3)) / 24
    assert group_occupancy(units, POOLED).accumulated == Fraction((20 * 90 + 62) * 100, 24 * 90)
    jan = Month(2021, 1)
    assert group_occupancy(units, REPORTED).months[jan] == 75
    assert group_occupancy(units, PLACES_WEIGHTED).months[jan] == Fraction(20 * 100 + 4 * 50, 24)
    kinds = by_kind(units)
    assert list(kinds) == ["long_stay", "short_stay"] and kinds["long_stay"].places == 20


def test_merge_of_unit_streams_and_late_capacity() -> None:
    events = [unit_capacity_set("a", "2021-01-01", 5), unit_capacity_set("b", "2021-01-01", 7),
              unit_capacity_set("a", "2021-01-20", 6, recorded_at="2021-03-01")]
    parts = [occupancy.fold(e for e in events if e.stream_id == s) for s in ("unit:a", "unit:b")]
    assert occupancy.merge(parts[0], parts[1]) == occupancy.fold(events)
    as_of_feb = occupancy.fold(known_at(events, end_of_day(date(2021, 2, 28))))
    assert occupancy.available_place_days(as_of_feb.timeline("a"), JAN) == 5 * 31
    assert occupancy.available_place_days(occupancy.fold(events).timeline("a"), JAN) == 5 * 19 + 6 * 12


def test_report_layout_keys_and_percent_values() -> None:
    report = occupancy_report(occupancy.fold(_report_events()), care_costs.fold(_report_events()), Q1,
                              data_through=date(2021, 2, 28))
    assert [(r["unit"], r["row_type"]) for r in report.rows] == [
        ("Ek", "detail"), ("Boenden längre perioder: Totalt (ovägt medelvärde)", "subtotal"),
        ("Al", "detail"), ("Boenden kortare tid: Totalt (ovägt medelvärde)", "subtotal"),
        ("Samtliga egna boenden: Totalt (ovägt medelvärde)", "total"),
        ("KBT", "detail"), ("Öppenvårdsgrupper: Totalt (ovägt medelvärde)", "subtotal")]
    keys = [c.key for c in report.columns]
    assert keys[4:7] == ["pct_2021_01", "pct_2021_02", "pct_2021_03"] and "ack_places_weighted" in keys
    ek, total, kbt = report.rows[0], report.rows[4], report.rows[5]
    assert ek["pct_2021_01"] == 50 and ek["places"] == 2  # percent, not a share
    assert total["places"] == 6 and total["pct_2021_01"] == Fraction(50 + 25, 2)  # mean over units
    assert total["ack_places_weighted"] == Fraction(2 * 50 + 4 * 25, 6)
    assert kbt["pct_2021_03"] is None and kbt["pct_2021_01"] == 100  # individuals, March not reported
    assert all(k == k.lower() and " " not in k for k in keys)
    out = io.StringIO()
    render(report, "json", Console(file=out, width=200))
    rows = json.loads(out.getvalue())
    assert rows[0]["pct_2021_01"] == 50 and rows[0]["row_type"] == "detail"


def _report_events() -> list[Event]:
    events = [unit_capacity_set("ek", "2021-01-01", 2, name="Ek"),
              unit_capacity_set("al", "2021-01-01", 4, name="Al", kind="short_stay"),
              unit_capacity_set("kbt", "2021-01-01", 1, name="KBT", kind="group")]
    events += own_stay("e1", "ek", "2021-01-01", None) + own_stay("a1", "al", "2021-01-01", None)
    events += own_stay("k1", "kbt", "2021-01-05", "2021-01-09")
    return events

