"""Reconciliation checks of BRIEF §8 for budget, economy, EKB, investigations and workload.

Each test builds events from the published figures (source table named at each test), folds them
and asserts the derived figure within BRIEF §8's tolerance. Report figures live only here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, Period, days_in_year
from projections import budget, budget_checks, economy, ekb, investigations, workload
from projections.bitemporal import known_at
from projections.reports.budget import budget_report
from projections.reports.external_purchases import external_purchases_report
from tests.unit.event_builders_economy import (
    JAN_AUG_2021,
    MNKR,
    budget_revised,
    budget_set,
    ekb_status,
    forecast_adjusted,
    investigation_opened,
    orebro_external_2021,
    spread_postings,
    workload_measured,
)

TKR = 1_000
TENTH = Fraction(1, 10)


def half_up(value: Any, decimals: int = 0) -> Decimal:
    exact = Fraction(value)
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(
        Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP
    )


def m(text: str) -> Fraction:
    """A printed mnkr figure in SEK."""
    return Fraction(text) * MNKR


def seasonal(jan_aug_share: Fraction) -> list[str]:
    """Twelve monthly shares (6 decimals, summing to 1) whose Jan-Aug part is `jan_aug_share`."""
    each = half_up(jan_aug_share / 8, 6)
    rest = half_up((1 - Fraction(each) * 8) / 4, 6)
    shares = [each] * 8 + [rest] * 3
    return [str(s) for s in [*shares, Decimal(1) - sum(shares)]]


# 000, 5.1 'Verksamhet' (000_net_result_by_activity_2021.csv): (code, Jan-Aug outcome, Jan-Aug budget,
# annual budget), net amounts with costs negative, in mnkr.
NET_TABLE_2021 = (
    ("board", "-4.8", "-1.7", "-2.7"),
    ("prevention", "-16.9", "-17.4", "-27.3"),
    ("authority", "-69.3", "-72.6", "-112.5"),
    ("own_operations", "-103.1", "-105.5", "-165.0"),
    ("ekb", "0.5", "-0.4", "0.0"),
    ("external_care", "-200.1", "-183.2", "-274.8"),
)


def net_table_events() -> list[Event]:
    """Budgets (costs positive: the printed figure negated) with profiles that give the printed
    Jan-Aug budget, and monthly ledger postings that give the printed Jan-Aug outcome. EKB's zero
    frame is its income and cost lines (000, 5.3.3, 000_ekb_by_account_2021.csv): income −10.8 of
    which −7.2 in Jan-Aug (linear), costs 10.8 of which 7.6 in Jan-Aug (seasonal)."""
    events: list[Event] = []
    for code, outcome, period_budget, annual in NET_TABLE_2021:
        yearly, part = -m(annual), -m(period_budget)
        if yearly == 0:
            events.append(budget_set(2021, m("-10.8"), activity=code, account_group="income"))
            events.append(
                budget_set(
                    2021,
                    m("10.8"),
                    activity=code,
                    account_group="costs",
                    profile=seasonal(Fraction("7.6") / Fraction("10.8")),
                )
            )
        else:
            profile = "linear" if part == yearly * Fraction(2, 3) else seasonal(part / yearly)
            events.append(budget_set(2021, yearly, activity=code, profile=profile))
        events.extend(spread_postings(2021, range(1, 9), -m(outcome), activity=code))
    return events


def test_R16_net_table_signs_rendered_at_the_edge() -> None:
    state = budget.fold(net_table_events())
    authority = budget.where(activity="authority")
    outcome_cn = economy.costs_negative(budget.outcome(state, JAN_AUG_2021, authority))
    budget_cn = economy.costs_negative(budget.period_budget(state, JAN_AUG_2021, authority))
    assert half_up(outcome_cn / MNKR, 1) == Decimal("-69.3") and half_up(budget_cn / MNKR, 1) == Decimal(
        "-72.6"
    )
    deviation = economy.deviation_costs_negative(outcome_cn, budget_cn)
    assert half_up(deviation / MNKR, 1) == Decimal("3.3")
    assert deviation == budget.deviation(state, JAN_AUG_2021, authority)  # same sign as budget − utfall
    ekb_cn = [
        economy.costs_negative(f(state, JAN_AUG_2021, budget.where(activity="ekb")))
        for f in (budget.outcome, budget.period_budget)
    ]
    assert [half_up(v / MNKR, 1) for v in ekb_cn] == [Decimal("0.5"), Decimal("-0.4")]
    assert half_up(economy.deviation_costs_negative(*ekb_cn) / MNKR, 1) == Decimal("0.9")
    everything = budget.where()
    assert economy.costs_negative(budget.outcome(state, JAN_AUG_2021, everything)) == m("-393.7")
    annual_cn = economy.costs_negative(budget.annual_budget(state, 2021, everything))
    forecast_deviation = economy.forecast_deviation_costs_negative(m("-597.4"), annual_cn)
    assert abs(forecast_deviation - m("-15.2")) <= TENTH * MNKR  # rows sum to 582.3, printed 582.2


def test_R16_budget_report_renders_both_conventions() -> None:
    report = budget_report(budget.fold(net_table_events()), JAN_AUG_2021, 2021)
    row = next(r for r in report.rows if r["activity"] == "authority")
    assert row["deviation_sek"] == row["deviation_costs_negative"]
    assert half_up(row["net_outcome_costs_negative"] / MNKR, 1) == Decimal("-69.3")
    total = next(r for r in report.rows if r["row_type"] == "total")
    assert total["net_outcome_costs_negative"] == m("-393.7")


def test_R17_linear_and_seasonal_period_budget_shares() -> None:
    # 000, 5.1 and 5.3.2: external care period −183.2 of −274.8 (linear); staff −160.2 of −252.0 (seasonal)
    events = [
        budget_set(2021, m("274.8")),
        budget_set(
            2021,
            m("252.0"),
            activity="own_operations",
            account_group="staff",
            profile=seasonal(Fraction("160.2") / Fraction("252.0")),
        ),
    ]
    state = budget.fold(events)
    ext, staff = budget.where(activity="external_care"), budget.where(account_group="staff")
    ext_share = budget.period_budget(state, JAN_AUG_2021, ext) / budget.annual_budget(state, 2021, ext)
    staff_share = budget.period_budget(state, JAN_AUG_2021, staff) / budget.annual_budget(state, 2021, staff)
    assert ext_share == Fraction(2, 3) and half_up(ext_share, 4) == Decimal("0.6667")
    assert half_up(staff_share, 3) == Decimal("0.636")
    assert half_up(budget.period_budget(state, JAN_AUG_2021, ext) / MNKR, 1) == Decimal("183.2")
    assert half_up(budget.period_budget(state, JAN_AUG_2021, staff) / MNKR, 1) == Decimal("160.2")


def test_R18_account_group_table_net_and_deviation() -> None:
    # 000, 5.2 'Kontogrupp' (000_income_costs_by_account_group_2021.csv): budget and forecast 2021
    events = [
        budget_set(2021, m("-32.1"), activity="committee", account_group="income"),
        budget_set(2021, m("614.3"), activity="committee", account_group="costs"),
        forecast_adjusted(2021, "prognos 2 intäkter", account_group="income", total=m("-35.8")),
        forecast_adjusted(2021, "prognos 2 kostnader", account_group="costs", total=m("633.2")),
    ]
    state = budget.fold(events)

    def cn(amount: Fraction | None) -> Fraction:
        assert amount is not None
        return economy.costs_negative(amount)

    income_b, costs_b = (
        cn(budget.annual_budget(state, 2021, budget.where(account_group="income"))),
        cn(budget.annual_budget(state, 2021, budget.where(account_group="costs"))),
    )
    income_f = cn(budget.override(state, 2021, account_group="income").total_sek)  # type: ignore[union-attr]
    costs_f = cn(budget.override(state, 2021, account_group="costs").total_sek)  # type: ignore[union-attr]
    assert economy.net(income_f, costs_f) == m("-597.4")
    income_dev = economy.income_row_deviation(income_b, income_f)
    cost_dev = economy.cost_row_deviation(costs_b, costs_f)
    assert (income_dev, cost_dev) == (m("3.7"), m("18.9"))  # the cost row is positive for an overspend
    assert economy.net_row_deviation(income_dev, cost_dev) == m("-15.2")
    assert economy.deviation(-(income_b + costs_b), -(income_f + costs_f)) == m("-15.2")  # costs positive
    change = economy.net_cost_change(m("-574.9"), m("-597.4"))
    assert change.amount == m("22.5") and half_up(change.percent) == 4


def test_R20_ekb_flow_does_not_reconcile_and_is_flagged() -> None:
    # 000, 5.3.3 month-end stock (000_ekb_children_count_2014_2021.csv): dec-20 68 (asylum 2 F + 7 M,
    # municipality-placed 19 F + 40 M); aug-21 asylum 5 F + 6 M = 11, placed 9 F + 31 M = 40, total 51.
    # Flows Jan-Aug: 7 new, 25 ended. One placed boy was registered in April with a December date,
    # so the December stock as published (68) is 69 as known now.
    events: list[Event] = []

    def persons(prefix: str, n: int, status: str, sex: str, day: str = "2020-06-01") -> list[str]:
        ids = [f"{prefix}{i:02d}" for i in range(n)]
        events.extend(ekb_status(p, day, status, sex=sex) for p in ids)
        return ids

    persons("AF", 2, "asylum_seeker", "female")
    asylum_m = persons("AM", 7, "asylum_seeker", "male")
    placed_f = persons("KF", 19, "municipality_placed", "female")
    placed_m = persons("KM", 40, "municipality_placed", "male")
    events.append(
        ekb_status(
            "KX00",
            "2020-12-15",
            "municipality_placed",
            sex="male",
            recorded_at=datetime(2021, 4, 10, 9, tzinfo=STOCKHOLM),
        )
    )
    persons("NF", 3, "asylum_seeker", "female", "2021-03-01")
    persons("NK", 1, "municipality_placed", "female", "2021-04-01")
    persons("NM", 3, "municipality_placed", "male", "2021-05-01")
    ended = asylum_m[:1] + placed_f[:11] + placed_m[:13]
    events.extend(ekb_status(p, "2021-06-30", "ended") for p in ended)

    published = ekb.fold(known_at(events, datetime(2021, 1, 15, tzinfo=STOCKHOLM)))
    opening = sum(ekb.month_end_stock(published, Month(2020, 12)).values())
    now = ekb.fold(events)
    aug = ekb.month_end_stock(now, Month(2021, 8))
    assert (aug["asylum_seeker", "female"], aug["asylum_seeker", "male"]) == (5, 6)
    assert (aug["municipality_placed", "female"], aug["municipality_placed", "male"]) == (9, 31)
    flows = ekb.flows(now, JAN_AUG_2021)
    assert (opening, flows.inflow, flows.outflow, flows.closing) == (68, 7, 25, 51)
    check = ekb.flow_check(now, JAN_AUG_2021, published_opening=opening)
    assert check.expected_closing == 50 and check.difference == 1 and check.flagged
    assert not ekb.flow_check(now, JAN_AUG_2021).flagged  # as known now the opening is 69: reconciles


def openings(year: int, months: range, counts: dict[str, int]) -> list[Event]:
    """`counts[target group]` openings spread evenly over the months (the remainder in the first)."""
    events = []
    for group, total in counts.items():
        per, extra = divmod(total, len(months))
        for i, month in enumerate(months):
            for k in range(per + (extra if i == 0 else 0)):
                case = f"{group}-{year}-{month}-{k}"
                events.append(
                    investigation_opened(case, f"u-{case}", date(year, month, 1 + k % 28), target_group=group)
                )
    return events


def test_R21_investigations_started_average_per_month() -> None:
    # 000, 5.3.1 (000_initiated_investigations_per_month_2017_2021.csv): 4 064 in 2020; 2 572 in Jan-Aug 2021
    # by target group 136 / 92 / 93 per month
    events = openings(2020, range(1, 13), {"children": 1800, "youth": 1080, "adults": 1184})
    events += openings(2021, range(1, 9), {"children": 1090, "youth": 738, "adults": 744})
    state = investigations.fold(events)
    year_2020 = investigations.average_per_month(state, Period.year(2020))
    assert investigations.opened_count(state, Period.year(2020)) == 4064 and half_up(year_2020) == 339
    jan_aug = investigations.average_per_month(state, JAN_AUG_2021)
    assert investigations.opened_count(state, JAN_AUG_2021) == 2572 and half_up(jan_aug) == 322
    groups = [
        half_up(investigations.average_per_month(state, JAN_AUG_2021, g))
        for g in ("children", "youth", "adults")
    ]
    assert groups == [136, 92, 93] and abs(sum(groups) - half_up(jan_aug)) <= 1
    assert half_up(investigations.rolling_mean(state, Month(2020, 12)) or 0) == 339


def test_R23_ekb_compensation_per_year() -> None:
    # 000 text: 750 kr per day for kommunplacerade 18-20 with CSN; lost grant about 274 tkr a year
    yearly = economy.ekb_compensation(750, days_in_year(2021))
    assert yearly == 273_750 and half_up(yearly / TKR) == 274


def test_R24_workload_indicator_is_the_unweighted_mean_of_valid_measurements() -> None:
    # 000 'Arbetsmängdsmätning' (000_workload_measurement_2020_2021.csv); 2020 w20-22 skipped by authority
    weeks = {
        "authority": ((9, 116), (36, 93), (48, 108)),
        "outpatient": ((9, 96), (20, 105), (36, 88), (48, 103)),
    }
    events = [
        workload_measured(area, date.fromisocalendar(2020, week, 1), week, value)
        for area, rows in weeks.items()
        for week, value in rows
    ]
    events += [
        workload_measured("authority", "2021-03-01", 9, 109),
        workload_measured("outpatient", "2021-03-01", 9, 92),
    ]
    state = workload.fold(events)
    assert half_up(workload.indicator(state, 2020) or 0) == 101
    assert workload.indicator(state, 2020) == Fraction(116 + 93 + 108 + 96 + 105 + 88 + 103, 7)


def test_R25_own_operation_deviations_sum_with_ekb_and_external_care() -> None:
    # 000, 5.1: forecast deviations −6.2, +0.8, +5.6, +4.1 (own operations), EKB +1.2; external care
    # from the externa-köp table folded from events (−20.6)
    own = economy.sum_deviations([m("-6.2"), m("0.8"), m("5.6"), m("4.1")])
    assert own == m("4.3") and abs(own - m("4.2")) <= TENTH * MNKR  # the text says 4.2
    fx = orebro_external_2021()
    table = external_purchases_report(fx.figures, budget.fold(fx.events), JAN_AUG_2021, 2021)
    external = next(r for r in table.rows if r["row_type"] == "total")["forecast_deviation_sek"]
    assert isinstance(external, Fraction)
    total = economy.sum_deviations([own, m("1.2"), external])
    assert abs(total - m("-15.2")) <= 2 * TENTH * MNKR  # six independently rounded cells (BRIEF §8: ±0.1-0.2)
    assert half_up(total / MNKR, 1) == Decimal("-15.1")


FRAME_2024 = (  # 002, 5.1.1 (002_budget_frame_buildup_2024.csv), tkr
    (123, "Div justeringar tilläggsanslag och ombudgeteringar"),
    (2585, "Lönekomp överhäng LÖV 2023 3 mån"),
    (-400, "Återföring av tillfällig satsning 2023 - GVI"),
    (-3400, "Effektiviseringskrav"),
    (-75, "Del av kommundirektörens riktade effektiviseringsuppdrag"),
    (6000, "Volymkompensation"),
    (72, "Höjd internränta"),
    (2472, "Höjt PO"),
    (1640, "Anslag narkotikateam"),
)


def test_R29_frame_build_up_is_last_frame_plus_revisions() -> None:
    events = [budget_set(2024, 654_442 * TKR, activity="total", day="2023-04-15")]
    events += [
        budget_revised(2024, amount * TKR, reason, activity="total", day=date(2023, 5, 1 + i))
        for i, (amount, reason) in enumerate(FRAME_2024)
    ]
    frame = budget.line_budget(budget.fold(events), 2024, budget.BudgetLine(activity="total"))
    assert frame is not None and frame.amount == 663_459 * TKR
    assert [r.reason for r in frame.revisions][-1] == "Anslag narkotikateam"
    stale = budget_revised(2024, 999 * TKR, "före ramen", activity="total", day="2023-01-10")
    assert budget.line_budget(budget.fold([*events, stale]), 2024, frame.line).amount == 663_459 * TKR  # type: ignore[union-attr]


BUDGET_BY_ACTIVITY = (  # 002, 5.1.3 (002_budget_by_activity_2023_2024.csv), mnkr, costs negative
    ("board", -28, -28),
    ("prevention", -29, -31),
    ("authority", -115, -124),
    ("own_operations", -191, -191),
    ("ekb", 0, 0),
    ("external_care", -292, -292),
)


def test_R30_activity_budgets_must_sum_to_the_stated_total() -> None:
    events = [
        budget_set(year, -column * MNKR, activity=code)
        for code, b2023, b2024 in BUDGET_BY_ACTIVITY
        for year, column in ((2023, b2023), (2024, b2024))
    ]
    events += [budget_set(2023, 655 * MNKR, activity="total"), budget_set(2024, 663 * MNKR, activity="total")]
    state = budget.fold(events)
    check_2023, check_2024 = budget_checks.check_total(state, 2023), budget_checks.check_total(state, 2024)
    assert economy.costs_negative(check_2023.sum_of_activities) == -655 * MNKR and not check_2023.flagged
    assert economy.costs_negative(check_2024.sum_of_activities) == -666 * MNKR
    assert check_2024.flagged and check_2024.difference == 3 * MNKR
    assert any(
        "Summakontroll 2024" in n and "AVVIKER" in n
        for n in budget_report(state, Period.year(2024), 2024).notes
    )


def test_R31_alternative_cost_of_internal_protected_housing_days() -> None:
    # 002: 621 days at 650 kr internally instead of 2 300 kr externally
    effect = economy.alternative_cost(621, 2300, 650)
    assert half_up(effect.internal_cost_sek / TKR) == 404 and half_up(effect.external_cost_sek / TKR) == 1428
    assert half_up(effect.saving_sek / MNKR, 1) == Decimal("1.0")
