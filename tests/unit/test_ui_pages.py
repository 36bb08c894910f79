"""Every page of the Streamlit app, run by AppTest against a SQLite store seeded with known events.

The numbers asserted are the seed's (`tests.unit.ui_seed`), as the screen shows them: rounded half
up, small cells as "<5". AppTest runs the real app script (`ui/app.py`) with `CASESTREAM_DB` pointing
at the seeded store, exactly as `casestream ui` would.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from events.access import AccessViewed
from events.envelope import Event
from projections.forecast_model import SimConfig
from projections.reports.base import Column
from services import forecasting
from services.queries_forecast import load_scenarios
from services.render import display_value
from services.store import open_store
from tests.unit import ui_seed

APP = Path(__file__).resolve().parents[2] / "ui" / "app.py"
SIMULATIONS = 200  # the band's simulations on the Prognos page (lean; the default is 1000)
PAGES = ("views/oversikt.py", "views/externa_kop.py", "views/belaggning.py", "views/aktualiseringar.py",
         "views/prognos.py")


@pytest.fixture(scope="module")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ui") / "events.db"
    url = f"sqlite:///{path}"
    store = open_store(url)
    store.append(ui_seed.all_events())
    store.close()
    return url


@pytest.fixture
def app(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AppTest:
    monkeypatch.setenv("CASESTREAM_DB", store_url)
    monkeypatch.setenv("CASESTREAM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CASESTREAM_SMALL_CELL_THRESHOLD", raising=False)
    monkeypatch.setenv("CASESTREAM_FORECAST_SIMULATIONS", str(SIMULATIONS))
    monkeypatch.delenv("CASESTREAM_FORECAST_SEED", raising=False)
    return AppTest.from_file(str(APP), default_timeout=60).run()


def page(app: AppTest, path: str) -> AppTest:
    app.switch_page(path).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def cell(frame: pd.DataFrame, match_col: str, match: str, col: str) -> str:
    rows = frame[frame[match_col] == match]
    assert len(rows), f"no row {match!r} in {match_col!r}"
    return str(rows.iloc[0][col])


def test_overview_tiles_show_the_seeded_figures(app: AppTest) -> None:
    page(app, PAGES[0])
    metrics = {m.label: m for m in app.metric}
    assert metrics["Personer snitt per dygn"].value == "8.0"
    assert metrics["Personer snitt per dygn"].delta == "+8.0 mot föregående period"
    assert metrics["Kostnad per vårddygn, ovägt medelvärde"].value == "2000 kr"
    assert metrics["Kostnad per vårddygn, vägt medelvärde"].value == "2586 kr"
    assert metrics["Beläggningsgrad egna boenden"].value == "65.0 %"
    assert metrics["Aktualiseringar denna månad"].value == "8"
    assert "-800 kr mot budget" in [c.value for c in app.caption]


def test_freshness_is_always_in_the_sidebar(app: AppTest) -> None:
    for path in PAGES:
        page(app, path)
        text = " ".join(c.value for c in app.sidebar.caption)
        found = re.search(r"position (\d+)", text)  # the seed's 54, plus any views logged since
        assert "Senaste händelse" in text and found is not None and int(found.group(1)) >= 54
        assert "Fördröjning i bearbetning" in text


def test_period_picker_changes_the_figures(app: AppTest) -> None:
    page(app, PAGES[0])
    app.sidebar.date_input(key="period").set_value((date(2021, 1, 1), date(2021, 1, 31))).run()
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Aktualiseringar denna månad"] == "7"  # January: 6 + 2, one anmälan retracted


def test_english_toggle(app: AppTest) -> None:
    app.sidebar.toggle(key="lang_en").set_value(True).run()
    page(app, PAGES[0])
    labels = [m.label for m in app.metric]
    assert "Average persons per day" in labels and "Intake this month" in labels


def test_external_purchases_table(app: AppTest) -> None:
    page(app, PAGES[1])
    frame = app.dataframe[0].value
    barn = frame[(frame["Verksamhet"] == "Institutionsvård") & (frame["Målgrupp"] == "Barn")].iloc[0]
    assert barn["Personer snitt per dygn, utfall perioden"] == "6"
    assert barn["Kostnad snitt per dygn, utfall perioden"] == "3000"
    assert barn["Total budget (mnkr)"] == "20.0"
    unga = frame[(frame["Verksamhet"] == "Familjehemsvård externt") & (frame["Målgrupp"] == "Unga")].iloc[0]
    assert unga["Personer snitt per dygn, utfall perioden"] == "<5"
    assert cell(frame, "Verksamhet", "Totalt", "Personer snitt per dygn, utfall perioden") == "8"
    assert {b.proto.label for b in app.get("download_button")} == {"Ladda ner CSV", "Ladda ner Excel"}


def test_occupancy_page(app: AppTest) -> None:
    page(app, PAGES[2])
    frame = app.dataframe[0].value
    assert cell(frame, "Verksamhet", "Hemmet", "Feb (%)") == "80"
    assert cell(frame, "Verksamhet", "Lilla", "Ack (%)") == "<5"
    assert cell(frame, "Verksamhet", "Samtliga egna boenden: Totalt (ovägt medelvärde)", "Ack (%)") == "65"
    assert len(app.get("vega_lite_chart")) == 2  # heat map and places over time


def test_intake_and_investigations_page(app: AppTest) -> None:
    page(app, PAGES[3])
    intake, investigations = app.dataframe[0].value, app.dataframe[1].value
    assert cell(intake, "Månad", "2021-01", "Antal aktualiseringar") == "7"
    assert cell(intake, "Månad", "2021-02", "Antal aktualiseringar") == "<5"
    assert cell(intake, "Månad", "2021-03", "Begäran") == "<5"
    assert cell(investigations, "Månad", "2021-03", "Avslutade utredningar") == "5"
    assert cell(investigations, "Månad", "2021-03", "Utredningstid, median (dagar)") == "60"


def test_forecast_page_compares_as_reported_with_as_known_now(app: AppTest) -> None:
    page(app, PAGES[4])
    app.date_input(key="reported_on").set_value(ui_seed.REPORTED_ON).run()
    assert not app.exception
    forecast = app.dataframe[0].value
    assert cell(forecast, "Verksamhet", "Totalt", "Budget helår (mnkr)") == "20.0"
    diff = app.dataframe[1].value
    barn = diff[(diff["Verksamhet"] == "Institutionsvård") & (diff["Målgrupp"] == "Barn")].iloc[0]
    assert (barn["Som rapporterat (mnkr)"], barn["Som känt nu (mnkr)"], barn["Skillnad (mnkr)"]) == (
        "6.6", "6.9", "0.3")
    changes = app.dataframe[2].value
    assert dict(zip(changes["Slag"], changes["Antal"], strict=True)) == {
        "Sen registrering": 1, "Rättelse": 1, "Makulering": 1}


def test_every_page_renders_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    monkeypatch.setenv("CASESTREAM_DB", url)
    monkeypatch.setenv("CASESTREAM_VAR_DIR", str(tmp_path / "var"))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    for path in PAGES:
        page(app, path)
        assert "Inga händelser ännu" in [c.value for c in app.sidebar.caption]
    page(app, PAGES[0])
    assert {m.label: m.value for m in app.metric}["Beläggningsgrad egna boenden"] == "–"


def access_events(store_url: str) -> list[Event]:
    store = open_store(store_url)
    try:
        return [e for e in store.read_all() if isinstance(e.data, AccessViewed)]
    finally:
        store.close()


def test_unit_level_views_are_logged_as_events_without_figures(app: AppTest, store_url: str) -> None:
    before = len(access_events(store_url))
    for path in PAGES:
        page(app, path)
    page(app, PAGES[2])  # Beläggning, after another page: a new view
    assert "Inloggning avstängd — roll: Controller" in [c.value for c in app.sidebar.caption]
    app.selectbox(key="unit").set_value("U1").run()  # one unit: a new view, with its unit
    app.sidebar.toggle(key="lang_en").set_value(True).run()  # a rerun of the same view: not a new view
    assert not app.exception
    new = access_events(store_url)[before:]
    assert [(e.data.view, e.data.unit_id) for e in new] == [  # type: ignore[attr-defined]
        ("belaggning", None), ("belaggning", None), ("belaggning", "U1")]
    data = new[-1].data
    assert isinstance(data, AccessViewed)
    assert (data.subject, data.role, data.level, data.channel) == ("anonym", "controller", "unit", "ui")
    assert (data.period_start, data.period_end) == (ui_seed.START, ui_seed.END)
    assert len({e.data.session for e in new}) == 1  # type: ignore[attr-defined]
    assert list(app.dataframe[0].value.iloc[:, 0]) == ["Hemmet"]  # the table narrowed to the unit picked


def _band_p50_mnkr(store_url: str, as_of: date | None) -> tuple[date, str]:
    """forecast_from_store's total p50 as known now, rendered as the page renders it (mnkr, 1 decimal)."""
    store = open_store(store_url)
    try:
        fv = forecasting.forecast_from_store(store, 2021, seed=forecasting.DEFAULT_SEED,
                                             config=SimConfig(simulations=SIMULATIONS))
        if as_of is not None:  # the same fold with the forecast date D = as_of
            fv = forecasting.compute(forecasting.Folded.of(store.read_all()), 2021, as_of,
                                     seed=forecasting.DEFAULT_SEED, config=SimConfig(simulations=SIMULATIONS))
    finally:
        store.close()
    return fv.as_of, display_value(MNKR, fv.base.total.p50_sek) + " mnkr"


MNKR = Column("p50_sek", "Prognos p50", "money", decimals=1, unit="mnkr")


def test_forecast_page_shows_the_band_as_forecast_from_store_gives_it(app: AppTest, store_url: str) -> None:
    page(app, PAGES[4])
    _, expected = _band_p50_mnkr(store_url, ui_seed.END)  # D = the period's last day
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Prognos p50 totalt"] == expected
    band = app.dataframe[-1].value
    assert cell(band, "Verksamhet", "Totalt", "Prognos p50 (mnkr)") == expected.removesuffix(" mnkr")
    assert cell(band, "Verksamhet", "Totalt", "Budget helår (mnkr)") == "20.0"
    assert metrics["Budget"] == "20.0 mnkr"
    low, high = (cell(band, "Verksamhet", "Totalt", f"Prognos {q} (mnkr)") for q in ("p10", "p90"))
    assert metrics["Prognos p10–p90 totalt (mnkr)"] == f"{low}–{high}"
    unga = band[(band["Verksamhet"] == "Familjehemsvård externt") & (band["Målgrupp"] == "Unga")].iloc[0]
    assert unga["Pågående placeringar"] == "<5"  # 2 open placements: a small cell
    assert cell(band, "Verksamhet", "Totalt", "Pågående placeringar") == "9"
    assert metrics["Prognos i takt"] == cell(band, "Verksamhet", "Totalt", "Prognos i takt (mnkr)") + " mnkr"
    assert len(app.get("vega_lite_chart")) == 2 and app.toggle(key="band_history").value  # history drawn
    as_of, expected = _band_p50_mnkr(store_url, None)  # D = the latest business day in the data
    app.sidebar.date_input(key="period").set_value((date(2021, 1, 1), as_of)).run()
    assert {m.label: m.value for m in app.metric}["Prognos p50 totalt"] == expected


SCENARIOS = """\
scenarios:
  - name: Priser +4 % från juli
    changes:
      - {kind: price, percent: 4, from: 2021-07-01}
"""


def test_forecast_page_compares_a_scenario_with_the_base(
    store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = tmp_path / "scenarios"
    folder.mkdir()
    (folder / "priser.yaml").write_text(SCENARIOS, encoding="utf-8")
    (folder / "fel.yaml").write_text(SCENARIOS.replace("2021-07-01", "2021-02-01"), encoding="utf-8")
    monkeypatch.setenv("CASESTREAM_FORECAST_SCENARIO_DIR", str(folder))
    monkeypatch.setenv("CASESTREAM_DB", store_url)
    monkeypatch.setenv("CASESTREAM_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("CASESTREAM_FORECAST_SIMULATIONS", str(SIMULATIONS))
    app = page(AppTest.from_file(str(APP), default_timeout=60).run(), PAGES[4])
    assert app.selectbox(key="scenario_file").options == ["Inget scenario", "fel.yaml", "priser.yaml"]
    app.selectbox(key="scenario_file").set_value("priser.yaml").run()
    assert not app.exception
    store = open_store(store_url)
    try:
        spec = load_scenarios(SCENARIOS.encode(), "priser.yaml")
        fv = forecasting.compute(forecasting.Folded.of(store.read_all()), 2021, ui_seed.END,
                                 config=SimConfig(simulations=SIMULATIONS), scenario_specs=spec)
    finally:
        store.close()
    change = fv.scenarios[0].differences[None].p50_change_sek
    side = app.dataframe[-1].value
    assert cell(side, "Verksamhet", "Totalt", "Priser +4 % från juli: skillnad p50 (mnkr)") == display_value(
        MNKR, change)
    base_p50 = display_value(MNKR, fv.base.total.p50_sek)
    assert cell(side, "Verksamhet", "Totalt", "Prognos p50 (mnkr)") == base_p50
    assert change > 0
    app.selectbox(key="scenario_file").set_value("fel.yaml").run()
    assert not app.exception
    error = " ".join(e.value for e in app.error)
    assert "Scenariofilen kan inte användas" in error and "2021-02-01 is not after" in error
    assert "Prognos p50 totalt" in [m.label for m in app.metric]  # the base band is still shown
