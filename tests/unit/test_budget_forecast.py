"""budget (budget.set / revised, ledger.posted, forecast.adjusted) and the run-rate forecast."""

from __future__ import annotations

import random
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from events.envelope import Event
from events.reference import BudgetLine
from events.timeutil import STOCKHOLM, Period, end_of_day
from projections import budget, budget_checks, forecast
from projections.bitemporal import known_at
from projections.lines import LineFigures, LineKey
from projections.reports.budget import budget_report
from projections.reports.forecast import forecast_report
from tests.unit.builders import retracted
from tests.unit.event_builders_economy import (
    budget_revised,
    budget_set,
    forecast_adjusted,
    ledger_posted,
    spread_postings,
)

JAN_AUG = Period(date(2021, 1, 1), date(2021, 8, 31))
INST = LineKey("institution", "children")
INST_LINE = BudgetLine(activity="external_care", category="institution", target_group="children")
SEASONAL = ["0.1"] * 6 + ["0.05"] * 2 + ["0.075"] * 4


def inst(*, care_days: int = 2430, cost: int = 2430 * 5000, period: Period = JAN_AUG) -> LineFigures:
    return LineFigures(INST, period, care_days, Fraction(cost), 12, Decimal(5000), "day")


def test_period_budget_linear_twelfths_and_part_month_pro_rata() -> None:
    state = budget.fold([budget_set(2021, 1_200_000, category="institution", target_group="children")])
    select = budget.external_line("institution", "children")
    assert budget.period_budget(state, JAN_AUG, select) == 800_000
    assert budget.period_budget(state, Period(date(2021, 1, 1), date(2021, 1, 16)), select) == Fraction(
        100_000 * 16, 31
    )
    assert budget.annual_budget(state, 2021, select) == 1_200_000
    two_years = Period(date(2021, 12, 1), date(2022, 1, 31))
    assert budget.period_budget(state, two_years, select) == 100_000  # nothing budgeted for 2022


def test_period_budget_with_monthly_shares() -> None:
    state = budget.fold([budget_set(2021, 1_000_000, activity="own_operations", profile=SEASONAL)])
    select = budget.where(activity="own_operations")
    assert budget.period_budget(state, JAN_AUG, select) == 700_000
    assert budget.profile_share(
        budget.line_budget(state, 2021, BudgetLine(activity="own_operations")).profile,  # type: ignore[union-attr]
        2021,
        Period(date(2021, 7, 1), date(2021, 7, 16)),
    ) == Fraction(5, 100) * Fraction(16, 31)


def test_revisions_add_to_the_latest_set_and_follow_its_profile_unless_they_have_their_own() -> None:
    events = [
        budget_set(2021, 1_000_000, activity="own_operations", profile=SEASONAL, day="2020-11-20"),
        budget_revised(2021, 120_000, "volymkompensation", activity="own_operations", day="2021-02-01"),
        budget_revised(
            2021,
            12_000,
            "engångssatsning i mars",
            activity="own_operations",
            day="2021-03-01",
            profile=["0"] * 2 + ["1"] + ["0"] * 9,
        ),
    ]
    state = budget.fold(events)
    line = budget.line_budget(state, 2021, BudgetLine(activity="own_operations"))
    assert line is not None and line.amount == 1_132_000
    assert [r.reason for r in line.revisions] == ["volymkompensation", "engångssatsning i mars"]
    assert budget.period_budget(state, JAN_AUG, budget.where(activity="own_operations")) == (
        700_000 + 84_000 + 12_000
    )
    reset = budget.fold([*events, budget_set(2021, 900_000, activity="own_operations", day="2021-02-15")])
    line = budget.line_budget(reset, 2021, BudgetLine(activity="own_operations"))
    assert line is not None and line.amount == 912_000  # the new set replaces; only the later revision stays


def test_outcome_deviation_and_retracted_postings() -> None:
    posting = ledger_posted(2021, 3, 250_000, category="institution", target_group="children")
    events = [
        budget_set(2021, 1_200_000, category="institution", target_group="children"),
        *spread_postings(2021, range(1, 3), 200_000, category="institution", target_group="children"),
        posting,
    ]
    select = budget.external_line("institution", "children")
    state = budget.fold(events)
    q1 = Period(date(2021, 1, 1), date(2021, 3, 31))
    assert budget.outcome(state, q1, select) == 450_000
    assert budget.deviation(state, q1, select) == 300_000 - 450_000  # budget − utfall: negative = deficit
    assert budget.outcome(state, Period(date(2021, 3, 1), date(2021, 3, 15)), select) == Fraction(
        250_000 * 15, 31
    )
    budget.apply(state, retracted(posting, "2021-04-10"))
    assert budget.outcome(state, q1, select) == 200_000
    assert budget.outcome(budget.fold([retracted(posting, "2021-04-10"), posting]), q1, select) == 0


def test_selectors_keep_vat_refund_apart_from_the_external_line() -> None:
    events = [
        budget_set(2021, 3_000_000, category="institution", target_group="children"),
        budget_set(
            2021, -500_000, category="institution", target_group="children", account_group="vat_refund"
        ),
        budget_set(2021, -200_000, account_group="vat_refund"),
    ]
    state = budget.fold(events)
    assert budget.annual_budget(state, 2021, budget.external_line("institution", "children")) == 3_000_000
    assert budget.annual_budget(state, 2021, budget.where(account_group="vat_refund")) == -700_000
    assert budget.annual_budget(state, 2021, budget.where(activity="external_care")) == 2_300_000


def test_check_total_flags_only_a_real_difference() -> None:
    events = [
        budget_set(2022, 100, activity="a"),
        budget_set(2022, 50, activity="b"),
        budget_set(2022, 150, activity="total"),
    ]
    assert not budget_checks.check_total(budget.fold(events), 2022).flagged
    revised = budget.fold([*events, budget_revised(2022, 7, "tillägg", activity="b")])
    off = budget_checks.check_total(revised, 2022)
    assert off.flagged and off.difference == 7
    assert not budget_checks.check_total(
        budget.fold([*events, budget_revised(2022, 7, "x", activity="b")]), 2022, 10
    ).flagged
    assert budget_checks.check_total(budget.fold(events[:2]), 2022).stated_total is None


def test_budget_revision_recorded_after_t_is_not_known_at_t() -> None:
    events = [
        budget_set(2021, 1_000_000, activity="authority"),
        budget_revised(
            2021,
            50_000,
            "tilläggsanslag",
            activity="authority",
            day="2021-04-20",
            recorded_at=datetime(2021, 5, 5, tzinfo=STOCKHOLM),
        ),
    ]
    then = budget.fold(known_at(events, end_of_day(date(2021, 4, 30))))
    assert budget.annual_budget(then, 2021, budget.where(activity="authority")) == 1_000_000
    assert budget.annual_budget(budget.fold(events), 2021, budget.where(activity="authority")) == 1_050_000


def test_merge_of_budget_states_equals_the_fold() -> None:
    events: list[Event] = [
        budget_set(2021, 1_000_000, activity="authority"),
        budget_revised(2021, 5_000, "justering", activity="authority"),
        forecast_adjusted(2021, "skäl", category="institution", target_group="children", persons=3),
    ]
    posts = spread_postings(2021, range(1, 9), 800_000, activity="authority")
    events += [*posts, retracted(posts[2], "2021-09-01")]
    whole = budget.fold(events)
    for seed in range(4):
        rng = random.Random(seed)
        left = {s for s in {e.stream_id for e in events} if rng.random() < 0.5}
        merged = budget.merge(
            budget.fold(e for e in events if e.stream_id in left),
            budget.fold(e for e in events if e.stream_id not in left),
        )
        assert merged.outcome == whole.outcome and merged.budgets == whole.budgets
    assert budget.merge(budget.fold(events[:6]), budget.fold(events[3:])).outcome == whole.outcome


# --- forecast -------------------------------------------------------------------------------------


def test_day_priced_run_rate_is_period_persons_times_period_price_times_days_in_year() -> None:
    state = budget.fold([budget_set(2021, 18_000_000, category="institution", target_group="children")])
    fc = forecast.run_rate({INST: inst()}, state, 2021)[INST]
    assert (fc.persons_per_day, fc.price_sek, fc.unit, fc.basis) == (10, 5000, "day", "run_rate")
    assert fc.total_sek == 10 * 5000 * 365 and fc.deviation_sek == 18_000_000 - 18_250_000
    leap = forecast.line_forecast(
        inst(period=Period(date(2024, 1, 1), date(2024, 8, 31)), care_days=2440, cost=2440 * 5000),
        state,
        2024,
    )
    assert leap.total_sek == 10 * 5000 * 366


def test_monthly_priced_line_uses_the_latest_monthly_price_times_12() -> None:
    key = LineKey("family_home_internal", "children")
    fig = LineFigures(key, JAN_AUG, 243 * 4, Fraction(4 * 8 * 30_000), 4, Decimal(32_000), "month")
    fc = forecast.line_forecast(fig, budget.State(), 2021)
    assert forecast.period_price(fig) == 30_000 and fc.price_sek == 32_000
    assert fc.total_sek == 4 * 32_000 * 12
    no_latest = LineFigures(key, JAN_AUG, 243 * 4, Fraction(4 * 8 * 30_000), 4)
    assert forecast.line_forecast(no_latest, budget.State(), 2021).total_sek == 4 * 30_000 * 12


def test_cost_only_lines_forecast_their_outcome_run_rate() -> None:
    key = LineKey("contact_person", "children")
    fig = LineFigures(key, JAN_AUG, 0, Fraction(2_430_000), 30)
    fc = forecast.line_forecast(fig, budget.State(), 2021)
    assert fc.total_sek == 3_650_000 and fc.basis == "outcome_run_rate" and fc.persons_per_day is None


def test_overrides_replace_persons_price_or_total_and_carry_their_reasons() -> None:
    events = [
        forecast_adjusted(
            2021,
            "kortare vårdtider",
            category="institution",
            target_group="children",
            persons=8,
            day="2021-09-01",
        ),
        forecast_adjusted(
            2021, "nytt avtal", category="institution", target_group="children", price=5200, day="2021-09-02"
        ),
    ]
    fc = forecast.line_forecast(inst(), budget.fold(events), 2021)
    assert (fc.persons_per_day, fc.price_sek, fc.basis) == (8, 5200, "override")
    assert fc.total_sek == 8 * 5200 * 365 and fc.run_rate_total_sek == 10 * 5000 * 365
    assert fc.reasons == ("kortare vårdtider", "nytt avtal")
    later = forecast_adjusted(
        2021, "ny bedömning", category="institution", target_group="children", persons=9, day="2021-10-01"
    )
    fc = forecast.line_forecast(inst(), budget.fold([*events, later]), 2021)
    assert fc.persons_per_day == 9 and fc.reasons == ("nytt avtal", "ny bedömning")
    withdrawn = forecast.line_forecast(
        inst(),
        budget.fold([*events, retracted(events[0], "2021-09-05"), retracted(events[1], "2021-09-05")]),
        2021,
    )
    assert withdrawn.override is None and withdrawn.total_sek == 10 * 5000 * 365
    total = forecast_adjusted(
        2021, "känd avslutning", category="institution", target_group="children", total=15_000_000
    )
    assert forecast.line_forecast(inst(), budget.fold([total]), 2021).total_sek == 15_000_000


def test_override_for_another_year_or_line_does_not_apply() -> None:
    events = [
        forecast_adjusted(2022, "nästa år", category="institution", target_group="children", persons=1),
        forecast_adjusted(2021, "annan rad", category="institution", target_group="youth", persons=1),
    ]
    assert forecast.line_forecast(inst(), budget.fold(events), 2021).override is None


def test_year_to_date_plus_rest_variant() -> None:
    fig = inst()
    fc = forecast.line_forecast(fig, budget.State(), 2021)
    assert forecast.year_to_date_plus_rest(fig, fc, 2021) == 2430 * 5000 + 10 * 5000 * 122
    assert (
        forecast.year_to_date_plus_rest(inst(period=Period(date(2021, 2, 1), date(2021, 8, 31))), fc, 2021)
        is None
    )
    assert forecast.period_months(JAN_AUG) == 8


def test_forecast_report_shows_run_rate_override_and_reason() -> None:
    events = [
        budget_set(2021, 18_000_000, category="institution", target_group="children"),
        forecast_adjusted(
            2021, "kortare vårdtider", category="institution", target_group="children", persons=8
        ),
    ]
    report = forecast_report({INST: inst()}, budget.fold(events), JAN_AUG, 2021)
    row = next(r for r in report.rows if r["category"] == "institution")
    assert (row["run_rate_total_sek"], row["forecast_total_sek"]) == (18_250_000, 14_600_000)
    assert row["override_effect_sek"] == -3_650_000 and row["reason"] == "kortare vårdtider"
    assert row["basis"] == "Justerad" and any("kortare vårdtider" in n for n in report.notes)
    assert [r["row_type"] for r in report.rows][-2:] == ["adjustment", "total"]


def test_budget_report_rows_subtotals_and_revision_notes() -> None:
    events = [
        budget_set(2021, 1_200_000, activity="authority"),
        budget_set(2021, 2_400_000, category="institution", target_group="children"),
        budget_set(2021, -240_000, account_group="vat_refund"),
        budget_revised(2021, 120_000, "volymkompensation", activity="authority"),
        *spread_postings(2021, range(1, 9), 900_000, activity="authority"),
        *spread_postings(2021, range(1, 9), 1_700_000, category="institution", target_group="children"),
    ]
    report = budget_report(budget.fold(events), JAN_AUG, 2021)
    kinds = [(r["activity"], r["row_type"]) for r in report.rows]
    assert kinds == [
        ("authority", "detail"),
        ("external_care", "detail"),
        ("external_care", "detail"),
        ("external_care", "subtotal"),
        (None, "total"),
    ]
    authority = report.rows[0]
    assert authority["budget_sek"] == 1_320_000 and authority["revisions_sek"] == 120_000
    assert authority["period_budget_sek"] == 880_000 and authority["deviation_sek"] == -20_000
    assert authority["consumption_pct"] == Fraction(900_000 * 100, 880_000)
    assert (
        authority["deviation_costs_negative"] == -20_000
        and authority["net_outcome_costs_negative"] == -900_000
    )
    total = report.rows[-1]
    assert total["budget_sek"] == 1_320_000 + 2_400_000 - 240_000
    assert any("volymkompensation" in n and "+120000 kr" in n for n in report.notes)
