"""The forecast service over a real SQLite store: month-end history, accuracy, run rate beside the band, CLI.

The history is `tests.unit.test_forecast_sim.world` (three years of placements at known rates) written
as placement.started / placement.ended events, each recorded on its business day, plus a budget per
line. One start is back-registered (recorded in October for a start in May) to show that the
month-end history keeps the forecast as it stood then.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from fractions import Fraction
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from events.envelope import Event
from events.timeutil import Period, end_of_day
from projections import care_costs, forecast
from projections.forecast_model import SimConfig
from projections.lines import LineKey
from services import forecasting, forecasting_cli
from services.forecasting import Folded
from services.reports import build_report, bundle_from_store
from services.settings import Settings
from services.store import EventStore, open_store
from tests.unit.builders import placement_ended, placement_started
from tests.unit.event_builders_economy import budget_set
from tests.unit.test_forecast_sim import LINES, YEAR, world

CONFIG = SimConfig(simulations=100)
INST = LineKey("institution", "children")
LATE_START, LATE_RECORDED = date(YEAR, 5, 10), date(YEAR, 10, 5)


def events() -> list[Event]:
    out = [budget_set(YEAR, 10_000_000 * (i + 1), category=line.category, target_group=line.target_group)
           for i, line in enumerate(LINES)]
    for p in world(31, years=3):
        unit = "month" if p.category == "family_home_internal" else "day"
        out.append(placement_started(p.placement_id, p.start, category=p.category,
                                     target_group=p.target_group, legal_basis=p.legal_basis,
                                     price=p.prices[0].price, price_unit=unit))
        assert p.stop is not None
        out.append(placement_ended(p.placement_id, p.stop))
    out.append(placement_started("late-1", LATE_START, price=5000, recorded_at=LATE_RECORDED))
    return out


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('forecast') / 'store.db'}"
    store = open_store(url)
    result = store.append(events())
    assert not result.conflicts
    store.close()
    yield url


@pytest.fixture()
def store(store_url: str) -> Iterator[EventStore]:
    s = open_store(store_url)
    yield s
    s.close()


@pytest.fixture(scope="module")
def history(store_url: str) -> list[forecasting.MonthForecast]:
    s = open_store(store_url)
    try:
        return forecasting.month_end_history(s, YEAR, seed=3, config=CONFIG)
    finally:
        s.close()


def test_month_end_history_is_the_forecast_as_known_at_each_month_end(
    store: EventStore, history: list[forecasting.MonthForecast]
) -> None:
    assert [h.month.month for h in history] == list(range(1, 13))
    for month in (1, 6, 10):
        item = history[month - 1]
        folded = Folded.of(store.read_all(known_at=item.known_at))
        again = forecasting.compute(folded, YEAR, item.month.last, seed=3, config=CONFIG)
        assert item.view.base == again.base  # one-pass history == fold as known at that month end
        assert item.view.run_rate == again.run_rate
    june = history[5]
    assert june.view.as_of == date(YEAR, 6, 30)
    inst_open = {m: h.view.base.lines[INST].open_placements for m, h in enumerate(history, start=1)}
    late_known = forecasting.forecast_from_store(store, YEAR, as_of=date(YEAR, 6, 30), seed=3, config=CONFIG)
    assert late_known.base == june.view.base  # the back-registered start is not known at the end of June
    as_known_now = forecasting.compute(Folded.of(store.read_all()), YEAR, date(YEAR, 6, 30), seed=3,
                                       config=CONFIG)
    assert as_known_now.base.lines[INST].to_date_sek - june.view.base.lines[INST].to_date_sek == 5000 * 52
    assert inst_open[10] >= 1


def test_accuracy_per_line_once_the_year_is_closed(
    store: EventStore, history: list[forecasting.MonthForecast]
) -> None:
    rows = forecasting.accuracy(store, history, YEAR)
    final = forecasting.outcome(Folded.of(store.read_all()), YEAR)
    december = [r for r in rows if r.month.month == 12 and r.key is not None and r.key in final]
    assert december and all(r.error_sek == 0 and r.inside_band for r in december)  # nothing left to forecast
    total = [r for r in rows if r.key is None]
    assert len(total) == 12 and total[-1].outcome_sek == sum(final.values(), Fraction(0))
    inside = sum(r.inside_band for r in total[:-1]) / 11
    assert inside >= 0.5, [(str(r.month), float(r.error_pct or 0)) for r in total]
    early = open_store("memory://")
    early.append([placement_started("e-1", date(YEAR, 3, 1), price=100)])
    history = forecasting.month_end_history(early, YEAR, through=date(YEAR, 3, 31))
    assert [h.month.month for h in history] == [1, 2, 3]
    spring = datetime(YEAR, 4, 1, tzinfo=UTC)
    refused = f"{YEAR} is not closed on {YEAR}-04-01: .* up to {YEAR}-03-01"
    with pytest.raises(forecasting.YearNotClosed, match=refused):
        forecasting.accuracy(early, history, YEAR, now=spring)
    assert forecasting.accuracy(early, history, YEAR)  # the clock is past 2021: closed


def test_the_service_shows_the_reports_run_rate_beside_the_band(store: EventStore) -> None:
    as_of = date(YEAR, 8, 31)
    view = forecasting.forecast_from_store(store, YEAR, as_of=as_of, seed=1, config=CONFIG)
    period = Period(date(YEAR, 1, 1), as_of)
    report = build_report(store, "forecast", period, end_of_day(as_of), Settings())
    by_line = {(r["category"], r["target_group"]): r for r in report.rows if r["row_type"] == "detail"}
    folded = Folded.of(store.read_all(known_at=end_of_day(as_of)))
    figures = care_costs.line_figures(folded.care, period)
    band_rows = {(r["category"], r["target_group"]): r for r in view.report().rows
                 if r["row_type"] == "detail"}
    for key in (INST, LineKey("family_home_internal", "children")):
        fig = figures[key]
        expected = forecast.annual_amount(fig.persons_per_day, forecast.period_price(fig) or 0, "day", YEAR)
        if key.category == "family_home_internal":
            expected = forecast.run_rate({key: fig}, folded.budget, YEAR)[key].run_rate_total_sek
        row = band_rows[(key.category, key.target_group)]
        reported = by_line[(key.category, key.target_group)]["run_rate_total_sek"]
        assert row["run_rate_total_sek"] == expected == reported
        assert row["p10_sek"] <= row["p50_sek"] <= row["p90_sek"]  # type: ignore[operator]
        assert row["budget_sek"] == view.budgets[key]
        assert row["deviation_p50_sek"] == view.budgets[key] - view.base.lines[key].p50_sek
    assert view.budgets[INST] == 10_000_000
    gauges = forecasting.band_gauges(view)
    assert {g.labels[2][1] for g in gauges} == {"p10", "p50", "p90"}
    inst = [g for g in gauges if g.labels[:2] == (("category", "institution"), ("target_group", "children"))]
    band = view.base.lines[INST]
    assert [g.value for g in inst] == [float(band.p10_sek), float(band.p50_sek), float(band.p90_sek)]
    from_bundle = forecasting.bundle_gauges(bundle_from_store(store, end_of_day(as_of)), as_of, seed=1,
                                            config=CONFIG)
    assert from_bundle == gauges


def _cli() -> typer.Typer:
    app = typer.Typer()
    forecasting_cli.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing the app into one command
        """Nothing."""

    return app


def test_cli_prints_the_band_json_with_a_zero_change_scenario_and_refuses_a_bad_one(
    store_url: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    zero = tmp_path / "zero.yaml"
    zero.write_text("name: Oförändrat\nchanges:\n  - kind: price\n    percent: 0\n    from: 2021-09-01\n"
                    "  - {kind: end_placements, category: institution, target_group: children, count: 0,"
                    " on: 2021-09-01}\n")  # YAML 1.1 would read `on` as true: the loader keeps it a key
    args = ["forecast", "--year", str(YEAR), "--as-of", "2021-08-31", "--simulations", "20", "--seed", "4",
            "--db", store_url, "--format", "json"]
    result = runner.invoke(_cli(), [*args, "--scenario", str(zero)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    detail = {(r["category"], r["target_group"]): r for r in rows if r["row_type"] == "detail"}
    assert detail[("institution", "children")]["scenario_1_change_sek"] == 0
    assert {"p10_sek", "p50_sek", "p90_sek", "run_rate_total_sek", "budget_sek"} <= set(rows[-1])
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: Fel\nchanges:\n  - kind: price\n    from: 2021-09-01\n")
    result = runner.invoke(_cli(), [*args, "--scenario", str(bad)])
    assert result.exit_code == 2
    flat = "".join(re.sub(r"[│╭╮╰╯─\s]", "", result.output))  # rich wraps the error box to the terminal
    assert "percentandfactor" in flat and "bad.yaml" in flat
    missing = runner.invoke(_cli(), ["forecast", "--year", "2021", "--db", f"sqlite:///{tmp_path / 'no.db'}"])
    assert missing.exit_code == 2 and not (tmp_path / "no.db").exists()  # reading never creates a store
    table = runner.invoke(_cli(), [*args[:-2], "--history"])
    assert table.exit_code == 0, table.output
    assert "Prognoshistorik 2021" in table.output and "Totalt" in table.output
