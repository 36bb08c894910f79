"""lvu_lvm: unique individuals with an ongoing LVU / LVM placement in a period, by sex; the report."""

from __future__ import annotations

from datetime import date

from events.envelope import Event
from events.timeutil import Period
from projections import care_costs
from projections.lvu_lvm import unique_individuals
from projections.reports.lvu_lvm import lvu_lvm_report, shifted
from tests.unit.builders import placement_corrected, placement_started, retracted, stay

JAN_AUG = Period(date(2021, 1, 1), date(2021, 8, 31))


def found(events: list[Event], period: Period = JAN_AUG) -> dict[str, dict[str, int]]:
    result = unique_individuals(care_costs.fold(events), period)
    return {b: {"all": i.total, **{s: len(p) for s, p in i.by_sex.items()}} for b, i in result.items()}


def test_ongoing_on_some_day_follows_the_nights_rule() -> None:
    events = [
        *stay("ends-on-first-day", "2020-12-01", "2021-01-01", legal_basis="LVU", sex="female"),
        *stay("last-night", "2021-08-31", None, legal_basis="LVU", sex="female"),
        *stay("september", "2021-09-01", None, legal_basis="LVU", sex="male"),
        *stay("through", "2020-01-01", "2022-01-01", legal_basis="LVU", sex="male"),
    ]
    assert found(events)["LVU"] == {"all": 2, "female": 1, "male": 1}


def test_any_regime_and_line_counts_once_per_person() -> None:
    events = [
        *stay("a1", "2021-01-01", "2021-02-01", person="p-anna", legal_basis="LVU", sex="female",
              regime="own", unit_id="hvb"),
        *stay("a2", "2021-03-01", None, person="p-anna", legal_basis="LVU", sex="female",
              category="family_home_external"),
        *stay("b", "2021-03-01", None, person="p-bo", legal_basis="LVM", sex="male", target_group="adults",
              category="institution_substance"),
        *stay("c", "2021-03-01", None, person="p-cia", legal_basis="SoL", sex="female"),
    ]
    assert found(events) == {"LVU": {"all": 1, "female": 1}, "LVM": {"all": 1, "male": 1}}


def test_sex_from_the_latest_starting_placement() -> None:
    events = [*stay("x1", "2021-01-01", "2021-02-01", person="p-x", legal_basis="LVU", sex="unknown"),
              *stay("x2", "2021-04-01", None, person="p-x", legal_basis="LVU", sex="male")]
    assert found(events)["LVU"] == {"all": 1, "male": 1}


def test_corrections_and_retractions_apply() -> None:
    start = placement_started("r", "2021-02-01", legal_basis="LVU", sex="female")
    moved = [*stay("m", "2021-02-01", None, legal_basis="LVM", sex="male"),
             placement_corrected("m", "2021-05-01", start="2021-10-01", recorded_at="2021-10-02")]
    assert found([start, retracted(start, "2021-03-01"), *moved]) == {"LVU": {"all": 0}, "LVM": {"all": 0}}


def test_report_rows_totals_and_earlier_years() -> None:
    events = [*stay("g", "2021-02-01", None, person="p-g", legal_basis="LVU", sex="female"),
              *stay("g-lvm", "2021-06-01", None, person="p-g", legal_basis="LVM", sex="female",
                    target_group="adults"),
              *stay("b", "2020-02-01", "2020-03-01", person="p-b", legal_basis="LVU", sex="male"),
              *stay("o", "2021-01-01", "2021-01-02", person="p-o", legal_basis="LVU", sex="other")]
    report = lvu_lvm_report(care_costs.fold(events), JAN_AUG, years_back=1)
    assert [c.key for c in report.columns] == [
        "legal_basis", "sex", "measure", "individuals_2020", "individuals", "row_type"]
    table = [(r["legal_basis"], r["sex"], r["individuals_2020"], r["individuals"], r["row_type"])
             for r in report.rows]
    assert table == [
        ("LVU", "all", 1, 2, "subtotal"), ("LVU", "female", 0, 1, "detail"), ("LVU", "male", 1, 0, "detail"),
        ("LVU", "other", 0, 1, "detail"),
        ("LVM", "all", 0, 1, "subtotal"), ("LVM", "female", 0, 1, "detail"), ("LVM", "male", 0, 0, "detail"),
        (None, "all", 1, 2, "total"),  # g is under both laws: one person
    ]
    assert report.rows[1]["measure"] == "varav flickor" and report.rows[5]["measure"] == "varav kvinnor"


def test_shifted_period_handles_leap_day() -> None:
    leap = Period(date(2020, 1, 1), date(2020, 2, 29))
    assert shifted(leap, 1) == Period(date(2019, 1, 1), date(2019, 2, 28))
