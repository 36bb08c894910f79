"""The Prognos page's band queries over the seeded store: equal to services.forecasting, protected, scenarios.

The seed (`tests.unit.ui_seed`): 7 institution children and 2 external family-home youths open at the
forecast date 2021-03-31 (as known now); the youth line's pågående placeringar (2) is a small cell.
"""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest

from projections.forecast_model import SimConfig
from projections.scenarios import ScenarioError
from services import forecasting
from services.queries_forecast import (
    band_history,
    band_screen,
    load_scenarios,
    scenario_files,
    total_point,
)
from services.queries_source import StoreSource
from services.render import round_half_up
from services.store import open_store
from tests.unit import ui_seed

SIMULATIONS = 100
PRICES = b"name: Priser +4 %\nchanges:\n  - {kind: price, percent: 4, from: 2021-07-01}\n"


@pytest.fixture
def source() -> StoreSource:
    store = open_store("memory://")
    store.append(ui_seed.all_events())
    return StoreSource(store)


def direct(source: StoreSource, **kwargs: object) -> forecasting.ForecastView:
    folded = forecasting.Folded.of(source.store.read_all())
    return forecasting.compute(folded, 2021, ui_seed.END, config=SimConfig(simulations=SIMULATIONS),
                               **kwargs)  # type: ignore[arg-type]


def row(table: object, line: str, group: str | None) -> dict[str, object]:
    return next(r for r in table.rows if r["line"] == line and r["target_group"] == group)  # type: ignore[attr-defined]


def test_band_screen_equals_the_forecast_service(source: StoreSource) -> None:
    screen = band_screen(source, ui_seed.END, seed=forecasting.DEFAULT_SEED, simulations=SIMULATIONS)
    fv = direct(source)
    total = row(screen.table, "Totalt", None)
    assert total["p50_sek"] == round_half_up(fv.base.total.p50_sek / 1_000_000, 1)
    assert screen.total.p50_sek == round_half_up(fv.base.total.p50_sek, 0)
    assert screen.total.p10_sek <= screen.total.p50_sek <= screen.total.p90_sek
    assert total["budget_sek"] == round_half_up(Fraction(20), 1)  # 20 000 000 kr = 20.0 mnkr
    run_rate = sum(f.run_rate_total_sek for f in fv.run_rate.values())
    assert screen.total.run_rate_sek == round_half_up(run_rate, 0)
    assert row(screen.table, "Familjehemsvård externt", "Unga")["open_placements"] == "<5"
    assert row(screen.table, "Institutionsvård", "Barn")["open_placements"] == 7
    assert total["open_placements"] == 9 and screen.scenarios is None


def test_scenarios_side_by_side_equal_compare(source: StoreSource) -> None:
    specs = load_scenarios(PRICES, "priser.yaml")
    screen = band_screen(source, ui_seed.END, seed=forecasting.DEFAULT_SEED, simulations=SIMULATIONS,
                         specs=specs)
    fv = direct(source, scenario_specs=specs)
    assert screen.scenarios is not None and screen.scenario_names == ("Priser +4 %",)
    assert screen.scenarios.visible == ("line", "target_group", "p50_sek", "scenario_1_p50_sek",
                                        "scenario_1_change_sek")
    change = fv.scenarios[0].differences[None].p50_change_sek
    assert row(screen.scenarios, "Totalt", None)["scenario_1_change_sek"] == round_half_up(change / 10**6, 1)
    assert change > 0


def test_band_history_is_the_month_end_history(source: StoreSource) -> None:
    points = band_history(source, ui_seed.END, seed=forecasting.DEFAULT_SEED, simulations=SIMULATIONS)
    history = forecasting.month_end_history(source.store, 2021, config=SimConfig(simulations=SIMULATIONS),
                                            through=ui_seed.END)
    assert [p.as_of for p in points] == [date(2021, 1, 31), date(2021, 2, 28), date(2021, 3, 31)]
    assert points == [total_point(item.view) for item in history]
    assert band_history(object(), ui_seed.END, seed=1, simulations=SIMULATIONS) == []  # no store: no history


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"name: [unclosed", "a.yaml", "a.yaml: not valid YAML"),
    (b"{", "a.json", "a.json: not valid JSON"),
    (b"", "a.yaml", "a.yaml: the file is empty"),
    (b"name: x\nchanges:\n  - {kind: price, from: 2021-07-01}\n", "a.yml", "a.yml: 0.changes.0.price"),
])
def test_bad_scenario_files_are_refused_with_a_clear_error(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message.replace(".", r"\.")):
        load_scenarios(data, name)


def test_a_change_dated_on_the_forecast_date_is_refused(source: StoreSource) -> None:
    specs = load_scenarios(PRICES.replace(b"2021-07-01", b"2021-03-31"), "tidig.yaml")
    with pytest.raises(ScenarioError, match="2021-03-31 is not after the forecast date 2021-03-31"):
        band_screen(source, ui_seed.END, seed=1, simulations=SIMULATIONS, specs=specs)


def test_scenario_files_lists_yaml_and_json_only(tmp_path: Path) -> None:
    for name in ("b.yaml", "a.json", "c.yml", "notes.txt"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in scenario_files(tmp_path)] == ["a.json", "b.yaml", "c.yml"]
    assert scenario_files(None) == [] and scenario_files(tmp_path / "missing") == []
