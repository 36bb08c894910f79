"""The Prognos page's band queries: p10/p50/p90 per line and in total, scenarios, month-end history.

Every figure comes from `services.forecasting` (the UI computes none):

* **Helårsprognos med osäkerhet** (`band_screen`): the simulated band p10 / p50 / p90 per
  externa-köp line and for Totalt, next to **utfall hittills**, **prognos i takt** (the report's
  run-rate figure, R10–R12), the run-rate report's **prognos**, **budget helår** and **avvikelse
  budget − p50** (positive = surplus). The forecast date D is the period's last day; the year is
  D's year; the store is read as known now (`forecasting.compute` on the source's live bundle).
* **Scenarier**: named what-if files (YAML/JSON, `load_scenarios`, the CLI's loader and
  `projections.scenarios.parse`) forecast with the same seed beside the base (`scenario_table`:
  base p50, scenario p50 and scenario − base p50 per line).
* **Prognoshistorik** (`band_history`): the total band as it stood at each month end of the year up
  to D (`forecasting.month_end_history`, the store as known at the end of that month).

Small cells: **pågående placeringar** is a count of placements per line and rests on itself (fewer
than the threshold shows "<5"); the Totalt row is municipality-wide and shown. Money figures (the
band, run rate, budget, deviation, scenario p50) are not counts and are shown, as in the forecast
table. Förväntade nya is a model expectation, not a count of persons, and is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Final

from projections import budget, care_costs, smallcell
from projections.forecast_model import SimConfig
from projections.reports.base import Report
from projections.scenarios import Scenario, ScenarioError, parse
from services import forecasting
from services.queries_source import KpiSource, reading
from services.queries_view import Counts, TableView, view
from services.render import round_half_up

BAND_VISIBLE: Final = ("line", "target_group", "to_date_sek", "p10_sek", "p50_sek", "p90_sek",
                       "run_rate_total_sek", "forecast_total_sek", "budget_sek", "deviation_p50_sek",
                       "open_placements", "expected_new")
SCENARIO_SUFFIXES: Final = (".yaml", ".yml", ".json")


@dataclass(frozen=True, slots=True)
class BandPoint:
    """The total band at one forecast date (SEK, whole kronor half up), with budget and run rate."""

    as_of: date
    p10_sek: Decimal
    p50_sek: Decimal
    p90_sek: Decimal
    run_rate_sek: Decimal | None
    budget_sek: Decimal


@dataclass(frozen=True, slots=True)
class BandScreen:
    """Everything the band part of the Prognos page shows, protected and rounded."""

    table: TableView
    total: BandPoint
    scenarios: TableView | None  # None without scenarios
    scenario_names: tuple[str, ...] = ()


def _snapshot(source: KpiSource) -> forecasting.Folded:
    """A copy of the live bundle's care costs and budget, so the seconds-long forecast runs unlocked."""
    with reading(source):
        state = source.bundle(None)
        return forecasting.Folded(care_costs.merge(state.care_costs, care_costs.State()),
                                  budget.merge(state.budget, budget.State()))


def band_view(source: KpiSource, as_of: date, *, seed: int, simulations: int,
              specs: Sequence[Scenario] = ()) -> forecasting.ForecastView:
    """The forecast as known now with D = `as_of` (raises ScenarioError for a change dated ≤ D)."""
    config = SimConfig(simulations=simulations)
    return forecasting.compute(_snapshot(source), as_of.year, as_of, seed=seed, config=config,
                               scenario_specs=specs)


def _sek(value: Fraction) -> Decimal:
    return round_half_up(value, 0)


def total_point(fv: forecasting.ForecastView) -> BandPoint:
    total = fv.base.total
    rates = [f.run_rate_total_sek for f in fv.run_rate.values()]
    run_rate = _sek(sum(rates, Fraction(0))) if rates else None
    return BandPoint(fv.as_of, _sek(total.p10_sek), _sek(total.p50_sek), _sek(total.p90_sek), run_rate,
                     _sek(sum(fv.budgets.values(), Fraction(0))))


def _counts(report: Report) -> list[Counts]:
    """Pågående placeringar rests on itself on a line; the Totalt row is not protected."""
    out: list[Counts] = []
    for row in report.rows:
        n = row.get("open_placements") if row["row_type"] == "detail" else None
        out.append({"open_placements": n if isinstance(n, int) else None})
    return out


def band_table(fv: forecasting.ForecastView, threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """The band per line and Totalt, with run rate and budget (and any scenario columns), protected."""
    report = fv.report()
    return view(report, _counts(report), threshold, BAND_VISIBLE,
                meta={"as_of": fv.as_of.isoformat(), "seed": str(fv.seed)})


def scenario_table(fv: forecasting.ForecastView, threshold: int = smallcell.DEFAULT_THRESHOLD,
                   ) -> TableView | None:
    """Base vs each scenario per line: basprognos p50, scenario p50, scenario − base p50 (mnkr)."""
    if not fv.scenarios:
        return None
    report = fv.report()
    extra = tuple(c.key for c in report.columns if c.key.startswith("scenario_"))
    return view(report, _counts(report), threshold, ("line", "target_group", "p50_sek", *extra))


def band_screen(source: KpiSource, as_of: date, *, seed: int, simulations: int,
                threshold: int = smallcell.DEFAULT_THRESHOLD, specs: Sequence[Scenario] = ()) -> BandScreen:
    """The band table, the total point and the scenarios side by side for the Prognos page."""
    fv = band_view(source, as_of, seed=seed, simulations=simulations, specs=specs)
    return BandScreen(band_table(fv, threshold), total_point(fv), scenario_table(fv, threshold),
                      tuple(s.name for s in specs))


def band_history(source: KpiSource, through: date, *, seed: int, simulations: int) -> list[BandPoint]:
    """The total band at each month end of `through`'s year up to `through` (empty for a read model).

    Each month end is the store as known at the end of that day (`forecasting.month_end_history`);
    a year of month ends costs twelve forecasts, so callers cache it per store head.
    """
    store = getattr(source, "store", None)
    if store is None:
        return []
    history = forecasting.month_end_history(store, through.year, seed=seed,
                                            config=SimConfig(simulations=simulations), through=through)
    return [total_point(item.view) for item in history]


def load_scenarios(data: bytes, name: str) -> list[Scenario]:
    """The scenarios of a YAML or JSON document (by the name's suffix); ScenarioError names what is wrong."""
    import orjson
    import yaml

    from services.forecasting_cli import _yaml_loader

    is_json = name.lower().endswith(".json")
    try:
        raw = orjson.loads(data) if is_json else yaml.load(data, Loader=_yaml_loader())
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{name}: not valid {'JSON' if is_json else 'YAML'}: {exc}") from None
    if raw is None:
        raise ScenarioError(f"{name}: the file is empty")
    return parse(raw, name)


def scenario_files(folder: Path | None) -> list[Path]:
    """The scenario files (YAML/JSON) of the configured folder, by name (empty when unset or missing)."""
    if folder is None or not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SCENARIO_SUFFIXES)
