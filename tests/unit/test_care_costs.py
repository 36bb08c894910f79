"""care_costs: care days (nights), exact costs, line figures, corrections, retractions, merge, as-known-at."""

from __future__ import annotations

import random
import zlib
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, Period, end_of_day
from events.vocabulary import REPORT_LINES
from projections import care_costs
from projections.bitemporal import known_at
from projections.lines import LineFigures, LineKey
from tests.unit.builders import (
    placement_corrected,
    placement_ended,
    placement_repriced,
    placement_started,
    retracted,
    stay,
)

JAN_AUG = Period(date(2021, 1, 1), date(2021, 8, 31))
MARCH = Period.of_month(Month(2021, 3))
INST = LineKey("institution", "children")
MONTHLY: dict[str, str] = {"category": "family_home_internal", "price_unit": "month"}


def figures(events: list[Event], period: Period = JAN_AUG, key: LineKey = INST) -> LineFigures:
    return care_costs.line_figures(care_costs.fold(events), period)[key]


def test_arrival_day_counts_departure_day_does_not() -> None:
    f = figures(stay("p", "2021-03-10", "2021-03-15", price=1000), MARCH)
    assert (f.care_days, f.cost_sek, f.persons) == (5, 5000, 1)
    assert figures(stay("p", "2021-03-10", "2021-03-10", price=1000), MARCH).care_days == 0


def test_open_placement_covers_the_period_from_its_start() -> None:
    f = figures(stay("p", "2020-12-01", None, price=2000))
    assert f.care_days == JAN_AUG.days == 243
    assert f.persons_per_day == 1 and f.cost_per_day == 2000


def test_period_is_inclusive_and_departure_after_period_is_clipped() -> None:
    f = figures(stay("p", "2021-08-20", "2021-09-10", price=1), JAN_AUG)
    assert f.care_days == 12  # 20..31 August


def test_monthly_price_full_month_and_part_month() -> None:
    fh = LineKey("family_home_internal", "children")
    full = stay("a", "2021-02-01", "2021-03-01", price=29000, **MONTHLY)
    assert figures(full, JAN_AUG, fh).cost_sek == 29000  # February, 28 days, full month
    part = stay("b", "2021-01-17", "2021-02-15", price=31000, **MONTHLY)
    f = figures(part, JAN_AUG, fh)
    assert f.cost_sek == Fraction(31000 * 15, 31) + Fraction(31000 * 14, 28)
    assert f.care_days == 29 and f.latest_price_sek == Decimal(31000) and f.latest_price_unit == "month"


def test_leap_february_part_month() -> None:
    fh = LineKey("family_home_internal", "children")
    events = stay("a", "2020-02-15", "2020-03-01", price=29000, **MONTHLY)
    assert figures(events, Period.year(2020), fh).cost_sek == Fraction(29000 * 15, 29)


def test_money_is_exact_with_decimal_prices() -> None:
    f = figures(stay("p", "2021-01-01", "2021-01-04", price="1234.57"), JAN_AUG)
    assert f.cost_sek == Fraction("3703.71")


def test_repricing_applies_from_its_day_and_sets_latest_price() -> None:
    events = [*stay("p", "2021-01-01", None, price=1000), placement_repriced("p", "2021-03-01", 1500)]
    f = figures(events)
    assert f.cost_sek == 1000 * 59 + 1500 * (243 - 59)
    assert f.latest_price_sek == Decimal(1500) and f.latest_price_unit == "day"
    assert figures(events, Period(date(2021, 1, 1), date(2021, 2, 28))).latest_price_sek == Decimal(1000)


def test_latest_price_is_mean_on_the_last_covered_day() -> None:
    fh = LineKey("family_home_internal", "children")
    events = [
        *stay("a", "2021-01-01", None, price=30000, **MONTHLY),
        *stay("b", "2021-01-01", None, price=20000, **MONTHLY),
        *stay("c", "2021-01-01", "2021-05-01", price=90000, **MONTHLY),
    ]
    assert figures(events, JAN_AUG, fh).latest_price_sek == Decimal(25000)


def test_cost_only_lines_have_cost_and_persons_but_no_care_days() -> None:
    key = LineKey("contact_person", "youth")
    events = stay("k", "2021-01-01", "2021-03-01", category="contact_person", target_group="youth",
                  price=3100, price_unit="month")
    f = figures(events, JAN_AUG, key)
    assert (f.care_days, f.cost_sek, f.persons) == (0, 6200, 1)
    assert f.cost_per_day is None


def test_scope_is_placements_without_a_unit() -> None:
    events = [*stay("own", "2021-01-01", None, regime="own", unit_id="hvb-1", price=100),
              *stay("fh", "2021-01-01", None, category="family_home_internal", price=1, price_unit="month"),
              *stay("ext", "2021-01-01", None, price=5000)]
    lines = care_costs.line_figures(care_costs.fold(events), JAN_AUG)
    assert lines[INST].care_days == 243 and lines[INST].cost_sek == 5000 * 243
    assert lines[LineKey("family_home_internal", "children")].care_days == 243
    assert sum(f.care_days for f in lines.values()) == 2 * 243


def test_every_report_line_is_present_and_extra_lines_are_added() -> None:
    events = stay("s", "2021-01-01", None, category="supported_housing", target_group="youth", price=900)
    lines = care_costs.line_figures(care_costs.fold(events), JAN_AUG)
    assert len(lines) == len(REPORT_LINES) + 1 and list(lines)[-1] == LineKey("supported_housing", "youth")
    assert lines[INST] == LineFigures(INST, JAN_AUG, 0, Fraction(0), 0)


def test_headline_skips_monthly_cost_only_and_empty_rows() -> None:
    events = [*stay("a", "2021-01-01", None, price=1000),
              *stay("b", "2021-01-01", "2021-01-11", category="institution_substance", target_group="adults",
                    price=3000),
              *stay("c", "2021-01-01", "2021-01-11", category="institution_substance", target_group="adults",
                    price=5000),
              *stay("f", "2021-01-01", None, price=99999, **MONTHLY),
              *stay("k", "2021-01-01", None, category="contact_person", price=500, price_unit="day")]
    unweighted, weighted = care_costs.headline_cost_per_day(care_costs.line_figures(care_costs.fold(events),
                                                                                    JAN_AUG).values())
    assert unweighted == Fraction(1000 + 4000, 2)
    assert weighted == Fraction(1000 * 243 + 80000, 243 + 20)
    assert care_costs.headline_cost_per_day([]) == (None, None)


def test_figures_by_legal_basis_and_regime_and_own_share() -> None:
    events = [*stay("a", "2021-01-01", "2021-01-11", legal_basis="LVU", regime="own", unit_id="u", price=1),
              *stay("b", "2021-01-01", "2021-01-31", legal_basis="LVU", price=2),
              *stay("c", "2021-01-01", "2021-01-21", legal_basis="SoL", price=3)]
    state = care_costs.fold(events)
    jan = Period.of_month(Month(2021, 1))
    cells = care_costs.figures_by(state, jan, ("legal_basis", "regime"), scope="all")
    assert {k: v.care_days for k, v in cells.items()} == {
        ("LVU", "own"): 10, ("LVU", "purchased"): 30, ("SoL", "purchased"): 20}
    assert cells[("LVU", "purchased")].cost_sek == 60 and cells[("LVU", "own")].persons == {"P-a"}
    assert care_costs.own_regime_share(state, jan) == {("institution",): Fraction(10, 60)}
    assert care_costs.own_regime_share(state, jan, ("legal_basis",))[("LVU",)] == Fraction(1, 4)
    external = care_costs.figures_by(state, jan, ("legal_basis",))
    assert {k: v.care_days for k, v in external.items()} == {("LVU",): 30, ("SoL",): 20}


# ---------------------------------------------------------------- corrections and retractions

def test_corrections_change_start_end_price_and_reopen() -> None:
    base = stay("p", "2021-01-01", "2021-03-01", price=1000)
    later = "2021-06-01T12:00:00+02:00"
    assert figures([*base, placement_corrected("p", "2021-06-01", start="2021-02-01", recorded_at=later)]
                   ).care_days == 28
    assert figures([*base, placement_corrected("p", "2021-06-01", end="2021-01-11", recorded_at=later)]
                   ).care_days == 10
    reopened = figures([*base, placement_corrected("p", "2021-06-01", reopen=True, recorded_at=later)])
    assert reopened.care_days == 243
    repriced = figures([*base, placement_corrected("p", "2021-06-01", price=1200, recorded_at=later)])
    assert repriced.cost_sek == 1200 * 59


def test_latest_registered_correction_wins_whatever_the_arrival_order() -> None:
    events = [*stay("p", "2021-01-01", None, price=1),
              placement_corrected("p", "2021-05-01", end="2021-02-01", recorded_at="2021-05-01"),
              placement_corrected("p", "2021-06-01", end="2021-03-01", recorded_at="2021-06-01")]
    assert figures(events).care_days == 59
    assert figures(list(reversed(events))).care_days == 59
    # A new departure registered after a reopening ends the placement again.
    again = [*stay("q", "2021-01-01", "2021-02-01", price=1),
             placement_corrected("q", "2021-04-01", reopen=True, recorded_at="2021-04-01"),
             placement_ended("q", "2021-05-01", recorded_at="2021-05-02")]
    assert figures(again).care_days == 120


def test_retraction_withdraws_an_event_even_when_it_arrives_first() -> None:
    start = placement_started("p", "2021-01-01", price=1000)
    end = placement_ended("p", "2021-02-01")
    reprice = placement_repriced("p", "2021-01-11", 3000)
    events = [retracted(reprice, "2021-03-01"), start, end, reprice]
    assert figures(events).cost_sek == 1000 * 31
    assert figures([start, end, retracted(end, "2021-03-01")]).care_days == 243  # open again
    assert figures([start, end, retracted(start, "2021-03-01")]).care_days == 0  # placement gone


def test_duplicate_events_are_idempotent() -> None:
    events = stay("p", "2021-01-01", "2021-02-01", price=10)
    assert figures(events + events) == figures(events)


# ---------------------------------------------------------------- bitemporal

def test_late_registered_placement_changes_march_only_as_known_later() -> None:
    on_time = stay("a", "2021-03-01", "2021-04-01", price=100)
    late = [placement_started("b", "2021-03-05", price=200, recorded_at="2021-05-10T09:00:00+02:00"),
            placement_ended("b", "2021-03-25", recorded_at="2021-05-10T09:00:00+02:00")]
    history = on_time + late
    now = figures(list(known_at(history, None)), MARCH)
    april = figures(list(known_at(history, end_of_day(date(2021, 4, 30)))), MARCH)
    assert (now.care_days, now.cost_sek) == (31 + 20, 3100 + 4000)
    assert (april.care_days, april.cost_sek) == (31, 3100)
    naive = datetime(2021, 5, 10, 9, 0)  # naive = Stockholm time
    assert figures(list(known_at(history, naive)), MARCH).care_days == 51


def test_correction_and_retraction_change_past_periods_as_known_after_them() -> None:
    history = [*stay("p", "2021-01-01", None, price=1000),
               placement_corrected("p", "2021-06-15", start="2021-02-01",
                                   recorded_at=datetime(2021, 6, 15, 10, tzinfo=STOCKHOLM))]
    ended = placement_ended("p", "2021-04-01", recorded_at="2021-04-01")
    history += [ended, retracted(ended, "2021-07-01", recorded_at="2021-07-01")]
    jan = Period.of_month(Month(2021, 1))
    june = Period.of_month(Month(2021, 6))
    at = {t: list(known_at(history, end_of_day(date(2021, m, d)))) for t, (m, d) in
          {"may": (5, 31), "jun": (6, 30), "now": (12, 31)}.items()}
    assert figures(at["may"], jan).care_days == 31 and figures(at["may"], june).care_days == 0
    assert figures(at["jun"], jan).care_days == 0 and figures(at["jun"], june).care_days == 0
    assert figures(at["now"], jan).care_days == 0 and figures(at["now"], june).care_days == 30
    assert list(known_at([placement_started("x", "2021-01-01").model_copy(update={"recorded_at": None})],
                         end_of_day(date(2030, 1, 1)))) == []


# ---------------------------------------------------------------- merge and order

def mixed_history() -> list[Event]:
    events: list[Event] = []
    for i in range(30):
        cat, unit = [("institution", "day"), ("family_home_internal", "month"), ("contact_person", "month"),
                     ("family_home_external", "day")][i % 4]
        start = date(2020, 11 + i % 2, 1 + i)
        events += stay(f"p{i}", start, None if i % 5 == 0 else date(2021, 1 + i % 8, 1 + i % 27),
                       category=cat, price=1000 + 37 * i, price_unit=unit,
                       target_group=("children", "youth")[i % 2],
                       legal_basis=("SoL", "LVU")[i % 2], person=f"person-{i % 17}")
        if i % 3 == 0:
            events.append(placement_repriced(f"p{i}", date(2021, 3, 1 + i % 20), 2000 + i, price_unit=unit))
        if i % 7 == 0:
            events.append(placement_corrected(f"p{i}", "2021-05-01", start=date(2021, 1, 1 + i % 20),
                                              recorded_at="2021-05-01T10:00:00+02:00"))
        if i % 8 == 1:
            events.append(retracted(events[-1], "2021-06-01", recorded_at="2021-06-01T10:00:00+02:00"))
    return events


def test_merge_of_stream_partitions_equals_the_fold_of_all() -> None:
    events = mixed_history()
    whole = care_costs.fold(events)
    part_of = {e.stream_id: zlib.crc32(e.stream_id.encode()) % 3 for e in events}
    parts = [care_costs.fold(e for e in events if part_of[e.stream_id] == k) for k in range(3)]
    merged = care_costs.merge(care_costs.merge(parts[0], parts[1]), parts[2])
    assert merged == whole
    assert care_costs.line_figures(merged, JAN_AUG) == care_costs.line_figures(whole, JAN_AUG)
    assert care_costs.merge(whole, care_costs.State()) == whole


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=30, max_size=30), st.randoms(use_true_random=False))
def test_merge_and_shuffle_property(assignment: list[int], rnd: random.Random) -> None:
    events = mixed_history()
    streams = sorted({e.stream_id for e in events})
    part_of = {s: assignment[i % len(assignment)] for i, s in enumerate(streams)}
    parts = [care_costs.fold(e for e in events if part_of[e.stream_id] == k) for k in range(4)]
    merged = parts[0]
    for p in parts[1:]:
        merged = care_costs.merge(merged, p)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    expected = care_costs.line_figures(care_costs.fold(events), JAN_AUG)
    assert merged == care_costs.fold(events)
    assert care_costs.line_figures(merged, JAN_AUG) == expected
    assert care_costs.line_figures(care_costs.fold(shuffled), JAN_AUG) == expected


def test_apply_mutates_and_returns_the_state_it_is_given() -> None:
    state = care_costs.State()
    assert care_costs.apply(state, placement_started("p", "2021-01-01", price=1)) is state
    assert care_costs.fold([], state) is state and len(state.placements) == 1


def test_cost_sums_whole_and_fractional_prices_exactly() -> None:
    """Whole kronor are summed as ints, öre and monthly parts as fractions: the total is the exact sum."""
    events = [*stay("p", "2021-03-10", "2021-05-20", price=1000),
              placement_repriced("p", "2021-03-20", "999.75"),  # öre: a fraction of a krona per day
              placement_repriced("p", "2021-04-01", 1200),
              placement_repriced("p", "2021-04-11", "30000", price_unit="month")]
    cost = next(iter(care_costs.fold(events).resolved(JAN_AUG))).cost(JAN_AUG)
    want = (Fraction(1000) * 10 + Fraction("999.75") * 12 + Fraction(1200) * 10
            + Fraction(30000) * (Fraction(20, 30) + Fraction(19, 31)))
    assert cost == want and type(cost) is Fraction
    fig = figures(events, JAN_AUG)
    assert fig.cost_sek == want and fig.care_days == 71


def test_figures_sum_costs_of_many_denominators_exactly() -> None:
    """Figures.of sums per denominator: the total equals Fraction's own sum over the placements."""
    events = []
    for k, (price, unit) in enumerate([(1000, "day"), ("999.75", "day"), ("1234.33", "day"),
                                       ("30000", "month"), ("41999.5", "month"), (700, "day")]):
        events += stay(f"p{k}", f"2021-0{k + 1}-0{k + 2}", f"2021-0{k + 3}-1{k}", price=1000)
        events.append(placement_repriced(f"p{k}", f"2021-0{k + 2}-15", price, price_unit=unit))
    placements = list(care_costs.fold(events).resolved(JAN_AUG))
    want = sum((p.cost(JAN_AUG) for p in placements), Fraction(0))
    fig = care_costs.Figures.of(JAN_AUG, placements)
    assert len(placements) == 6 and fig.cost_sek == want and type(fig.cost_sek) is Fraction
    assert want.denominator > 1  # öre and part months: not whole kronor
