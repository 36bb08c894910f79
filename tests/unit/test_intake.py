"""intake: aktualiseringar per month, channel, target group and sex; retractions; merge; as known at T."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from fractions import Fraction

from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, Period, end_of_day
from projections import intake
from projections.bitemporal import known_at
from projections.reports.intake import intake_report
from tests.unit.builders import retracted
from tests.unit.event_builders_economy import case_actualised

MARCH = Period.of_month(Month(2021, 3))
Q1 = Period(date(2021, 1, 1), date(2021, 3, 31))


def sample() -> list[Event]:
    """Thirty aktualiseringar over Jan-Mar 2021 on ten case streams, two of them retracted."""
    channels, groups, sexes = (
        ("report", "application", "request"),
        ("children", "youth", "adults"),
        ("female", "male"),
    )
    events = [
        case_actualised(
            f"case-{i % 10}",
            date(2021, 1 + i % 3, 1 + i % 28),
            channel=channels[i % 3],
            target_group=groups[i // 3 % 3],
            sex=sexes[i % 2],
        )
        for i in range(30)
    ]
    events.append(retracted(events[4], "2021-04-02"))
    events.append(retracted(events[7], "2021-04-03"))
    return events


def test_counts_by_month_channel_target_group_and_sex() -> None:
    events = [
        case_actualised("a", "2021-03-02", channel="report", target_group="children", sex="female"),
        case_actualised("b", "2021-03-05", channel="application", target_group="children", sex="male"),
        case_actualised("c", "2021-03-31", channel="request", target_group="adults", sex="female"),
        case_actualised("d", "2021-04-01", channel="report", target_group="youth", sex="female"),
    ]
    march = intake.figures(intake.fold(events), MARCH)
    assert march.total == 3
    assert [march.by_channel(c) for c in ("report", "application", "request")] == [1, 1, 1]
    assert (
        march.by_target_group("children"),
        march.by_target_group("adults"),
        march.count("report", "children"),
    ) == (2, 1, 1)
    assert march.sex_share_pct("female") == Fraction(200, 3) and march.sex_share_pct("male") == Fraction(
        100, 3
    )
    assert march.application_share_pct == 50


def test_month_is_the_stockholm_business_date() -> None:
    late = case_actualised("a", datetime(2021, 3, 31, 22, 30, tzinfo=UTC))  # 00:30 on 1 April in Stockholm
    state = intake.fold([late])
    assert intake.figures(state, MARCH).total == 0
    assert intake.figures(state, Period.of_month(Month(2021, 4))).total == 1


def test_rolling_12_month_mean_counts_empty_months_as_zero_and_needs_a_full_window() -> None:
    events = [case_actualised(f"c{i}", date(2020, 1 + i % 12, 10)) for i in range(24)]  # 2 per month of 2020
    events.append(case_actualised("x", "2021-01-15"))
    state = intake.fold(events)
    assert intake.rolling_mean(state, Month(2020, 12)) == 2
    assert intake.rolling_mean(state, Month(2021, 1)) == Fraction(2 * 11 + 1, 12)
    assert intake.rolling_mean(state, Month(2021, 3)) == Fraction(2 * 9 + 1, 12)  # Feb, Mar 2021 count 0
    assert intake.rolling_mean(state, Month(2020, 11)) is None  # the window starts before the history
    assert intake.rolling_mean(state, Month(2020, 11), since=Month(2019, 1)) == Fraction(22, 12)


def test_retraction_withdraws_a_counted_aktualisering() -> None:
    a = case_actualised("a", "2021-03-02")
    state = intake.fold([a, case_actualised("b", "2021-03-03")])
    assert intake.figures(state, MARCH).total == 2
    intake.apply(state, retracted(a, "2021-03-20"))
    assert intake.figures(state, MARCH).total == 1
    intake.apply(state, retracted(a, "2021-03-21"))  # a second retraction changes nothing
    assert intake.figures(state, MARCH).total == 1


def test_retraction_folded_before_its_event_keeps_it_from_counting() -> None:
    a = case_actualised("a", "2021-03-02")
    state = intake.fold([retracted(a, "2021-03-20"), a])
    assert intake.figures(state, MARCH).total == 0
    assert a.event_id in state.contributions


def test_the_same_event_twice_counts_once() -> None:
    a = case_actualised("a", "2021-03-02")
    assert intake.figures(intake.fold([a, a]), MARCH).total == 1


def test_late_registered_aktualisering_changes_march_as_known_now_not_as_known_on_30_april() -> None:
    on_time = case_actualised("a", "2021-03-10")
    late = case_actualised("b", "2021-03-15", recorded_at=datetime(2021, 5, 4, 10, tzinfo=STOCKHOLM))
    events = [on_time, late]
    as_reported = intake.fold(known_at(events, end_of_day(date(2021, 4, 30))))
    assert intake.figures(as_reported, MARCH).total == 1
    assert intake.figures(intake.fold(events), MARCH).total == 2


def test_retraction_recorded_after_t_does_not_act_on_the_figure_as_known_at_t() -> None:
    a = case_actualised("a", "2021-03-10")
    events = [a, retracted(a, "2021-05-02")]
    assert intake.figures(intake.fold(known_at(events, end_of_day(date(2021, 4, 30)))), MARCH).total == 1
    assert intake.figures(intake.fold(events), MARCH).total == 0


def test_merge_of_states_from_disjoint_streams_equals_the_fold_of_all() -> None:
    events = sample()
    whole = intake.fold(events)
    for seed in range(5):
        rng = random.Random(seed)
        streams = {e.stream_id for e in events}
        left = {s for s in streams if rng.random() < 0.5}
        a = intake.fold(e for e in events if e.stream_id in left)
        b = intake.fold(e for e in events if e.stream_id not in left)
        assert intake.merge(a, b) == whole
        assert intake.merge(b, a) == whole
    assert intake.figures(whole, Q1).total == 28


def test_merge_corrects_overlaps_and_retractions_seen_by_the_other_side() -> None:
    events = sample()
    overlapping = intake.fold(events[:20])
    rest = intake.fold(events[10:])
    assert intake.merge(overlapping, rest) == intake.fold(events)


def test_report_has_a_row_per_month_and_a_total() -> None:
    report = intake_report(intake.fold(sample()), Q1)
    assert [r["month"] for r in report.rows] == ["2021-01", "2021-02", "2021-03", str(Q1)]
    assert [r["row_type"] for r in report.rows] == ["detail"] * 3 + ["total"]
    total = report.rows[-1]
    assert total["total"] == sum(r["total"] for r in report.rows[:-1]) == 28  # type: ignore[misc]
    assert total["mean_per_month"] == Fraction(28, 3)
    assert total["channel_report"] + total["channel_application"] + total["channel_request"] == 28  # type: ignore[operator]
    assert (
        report.column("female_pct").kind == "percent"
        and report.column("total").label_sv == "Antal aktualiseringar"
    )
