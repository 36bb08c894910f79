"""The UI's query functions over a seeded store: numbers, small cells, as-of explanations, downloads.

The seed (`tests.unit.ui_seed`) is small enough to count by hand; its docstring gives the figures.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from events.timeutil import Period, end_of_day
from projections import bundle
from services import queries
from services.queries_source import StoreSource
from services.store import open_store
from tests.unit import ui_seed

PERIOD = Period(ui_seed.START, ui_seed.END)


@pytest.fixture
def source() -> StoreSource:
    store = open_store("memory://")
    store.append(ui_seed.all_events())
    return StoreSource(store)


def row(table: queries.TableView, **match: object) -> dict[str, object]:
    return next(r for r in table.rows if all(r.get(k) == v for k, v in match.items()))


def test_live_bundle_is_extended_by_position_and_equals_a_full_fold() -> None:
    store = open_store("memory://")
    known = ui_seed.seed_events()
    store.append(known[:20])
    src = StoreSource(store)
    first = src.bundle()
    assert first.last_position == 20
    store.append(known[20:] + ui_seed.late_events(known))
    live = src.bundle()
    assert live is first  # the same state, extended in place
    full = bundle.fold(store.read_all())
    assert (live.events, live.last_position) == (full.events, full.last_position) == (54, 54)
    assert live.intake.counts == full.intake.counts
    assert live.care_costs.placements == full.care_costs.placements


def test_as_known_at_bundle_leaves_out_later_registrations(source: StoreSource) -> None:
    then = source.bundle(end_of_day(ui_seed.REPORTED_ON))
    assert then.events == 51
    assert source.bundle(end_of_day(ui_seed.REPORTED_ON)) is then  # kept until the head moves


def test_freshness_names_the_newest_event(source: StoreSource) -> None:
    fresh = source.freshness()
    assert fresh.position == 54
    assert fresh.appended_at is not None and fresh.age_seconds is not None and fresh.age_seconds >= 0
    assert fresh.worker_lag is None
    assert StoreSource(open_store("memory://")).freshness().age_seconds is None


def test_overview_tiles(source: StoreSource) -> None:
    tiles = {t.key: t for t in queries.overview_tiles(source, PERIOD)}
    assert tiles["persons_per_day"].value == Decimal("8.0")  # (570 + 149) care days / 90 = 7.99
    assert tiles["persons_per_day"].vs_budget == Decimal("3.0")  # budget 5 persons per day
    assert tiles["persons_per_day"].vs_previous == Decimal("8.0")  # nobody placed in Q4 2020
    assert tiles["cost_per_day"].value == Decimal("2000")  # (3 000 + 1 000) / 2, unweighted
    assert tiles["cost_per_day"].vs_budget == Decimal("-800")  # budget price 2 800
    assert tiles["cost_per_day_weighted"].value == Decimal("2586")  # 1 859 000 kr / 719 days
    assert tiles["occupancy"].value == Decimal("65.0")  # (80 + 50) / 2, unweighted as the reports
    assert tiles["intake_month"].value == Decimal("8")  # March: 7 anmälan + 1 begäran
    assert tiles["intake_month"].vs_previous is None  # February's 3 is a small cell


def test_external_purchases_table_protects_small_lines(source: StoreSource) -> None:
    table = queries.external_purchases_table(source, PERIOD)
    barn = row(table, line="Institutionsvård", target_group="Barn")
    assert barn["persons_per_day"] == Decimal("6")  # 570 care days / 90 = 6.33, shown without decimals
    assert barn["cost_per_day"] == Decimal("3000")
    assert barn["budget_sek"] == Decimal("20.0")  # mnkr
    unga = row(table, line="Familjehemsvård externt", target_group="Unga")
    assert unga["persons_per_day"] == "<5" and unga["cost_per_day"] == "<5"
    assert row(table, line="Summa Unga")["persons_per_day"] == "<5"
    assert row(table, line="Totalt")["persons_per_day"] == Decimal("8")  # municipality-wide: shown
    assert table.suppressed > 0


def test_occupancy_table_and_matrix(source: StoreSource) -> None:
    table = queries.occupancy_table(source, PERIOD)
    assert row(table, unit="Hemmet")["pct_2021_02"] == Decimal("80")
    assert row(table, unit="Lilla")["ack"] == "<5"
    total = row(table, row_type="total")
    assert (total["ack"], total["places"]) == (Decimal("65"), Decimal("14"))
    cells = {(c.unit, c.month): c for c in queries.occupancy_matrix(table, PERIOD)}
    assert cells[("Hemmet", "2021-03")].percent == Decimal("80")
    assert cells[("Lilla", "2021-03")].percent is None and cells[("Lilla", "2021-03")].label == "<5"


def test_intake_and_investigations(source: StoreSource) -> None:
    intake = queries.intake_table(source, PERIOD)
    assert row(intake, month="2021-01")["total"] == Decimal("7")  # 8 minus the retracted anmälan
    assert row(intake, month="2021-02")["total"] == "<5"
    assert row(intake, row_type="total")["total"] == Decimal("18")
    points = {(p.month, p.channel): p for p in queries.intake_by_channel(intake)}
    assert points[("2021-03", "Anmälan")].count == Decimal("7")
    assert points[("2021-01", "Ansökan")].count is None and points[("2021-01", "Ansökan")].label == "<5"
    inv = queries.investigations_table(source, PERIOD)
    march = row(inv, month="2021-03")
    assert (march["closed_total"], march["median_days"]) == (Decimal("5"), Decimal("60"))
    assert row(inv, row_type="total")["overdue"] == Decimal("0")
    assert all("inv-" not in note for note in inv.notes)


def test_as_of_comparison_explains_the_difference(source: StoreSource) -> None:
    comparison = queries.as_of_comparison(source, PERIOD, ui_seed.REPORTED_ON)
    kinds = {(c.kind, c.event_type): c.count for c in comparison.changes or ()}
    assert kinds == {("late", "placement.started"): 1, ("correction", "placement.corrected"): 1,
                     ("retraction", "event.retracted"): 1}
    diffs = {(d.line, d.target_group): d for d in queries.differences(comparison)}
    barn = diffs[("Institutionsvård", "Barn")]
    assert (barn.then, barn.now, barn.difference) == (Decimal("6.6"), Decimal("6.9"), Decimal("0.3"))
    assert diffs[("Totalt", "")].difference == Decimal("0.2")


def test_forecast_through_the_year(source: StoreSource) -> None:
    points = queries.forecast_through_year(source, PERIOD)
    assert [p.through for p in points] == [date(2021, 1, 31), date(2021, 2, 28), date(2021, 3, 31)]
    assert all(p.budget_sek == Decimal("20000000") for p in points)


def test_downloads_carry_the_protected_values(source: StoreSource) -> None:
    table = queries.intake_table(source, PERIOD)
    text = queries.to_csv(table).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("Månad;Antal aktualiseringar;Anmälan")
    assert "2021-02;<5;<5" in text
    book = load_workbook(io.BytesIO(queries.to_xlsx(table)))
    sheet = book.active
    assert sheet.cell(1, 1).value == "Månad"
    values = {sheet.cell(r, 1).value: sheet.cell(r, 2).value for r in range(2, sheet.max_row + 1)}
    assert values["2021-01"] == 7 and values["2021-02"] == "<5"


def test_periods() -> None:
    assert queries.same_days_month_before(Period(date(2021, 3, 1), date(2021, 3, 31))) == Period(
        date(2021, 2, 1), date(2021, 2, 28))
    assert queries.previous_period(PERIOD) == Period(date(2020, 10, 1), date(2020, 12, 31))
    assert queries.previous_period(Period(date(2021, 1, 5), date(2021, 1, 14))) == Period(
        date(2020, 12, 26), date(2021, 1, 4))


def test_default_period_is_the_year_to_date_of_the_data(source: StoreSource) -> None:
    assert queries.default_period(source) == PERIOD


def test_the_threshold_is_a_setting(source: StoreSource) -> None:
    unga = {"line": "Familjehemsvård externt", "target_group": "Unga"}
    def unga_persons(threshold: int) -> object:
        table = queries.external_purchases_table(source, PERIOD, threshold=threshold)
        return row(table, **unga)["persons_per_day"]
    assert unga_persons(2) == 2
    assert unga_persons(7) == "<7"
    barn = row(queries.external_purchases_table(source, PERIOD, threshold=8), line="Institutionsvård",
               target_group="Barn")
    assert barn["persons_per_day"] == "<8"  # 7 children now
