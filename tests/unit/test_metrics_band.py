"""The exporter's forecast band: equal to bundle_gauges, on the first scrape, never recomputed per scrape."""

from __future__ import annotations

from datetime import date

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from projections import bundle
from projections.forecast_model import SimConfig
from services import forecasting
from services.forecasting import Gauge
from services.metrics import catalogue
from services.metrics.exporter import build_registry
from services.metrics.forecast_band import BandCache
from services.metrics.source import kpi_source
from services.settings import Settings
from services.store import open_store
from tests.unit import builders as b
from tests.unit.test_metrics_scenario import AS_OF, scenario_events

SIMULATIONS = 200
Band = dict[tuple[tuple[str, str], ...], float]


def band(registry: object) -> Band:
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    return {tuple(sorted(s.labels.items())): s.value for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "casestream_forecast_band_sek"}


class Counting:
    """Calls the real `bundle_gauges` and counts the calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, state: bundle.State, day: date, **kwargs: object) -> list[Gauge]:
        self.calls += 1
        return forecasting.bundle_gauges(state, day, **kwargs)  # type: ignore[arg-type]


def expected(events: list, day: date = AS_OF) -> Band:
    gauges = forecasting.bundle_gauges(bundle.fold(events), day, seed=forecasting.DEFAULT_SEED,
                                       config=SimConfig(simulations=SIMULATIONS))
    return {tuple(sorted(g.labels)): g.value for g in gauges}


def test_the_exported_band_equals_bundle_gauges_on_the_first_scrape() -> None:
    store = open_store("memory://")
    store.append(scenario_events())
    settings = Settings(metrics_as_of=AS_OF, forecast_simulations=SIMULATIONS)
    exported = band(build_registry(kpi_source(store), settings))
    want = expected(scenario_events())
    assert exported == want
    line = (("category", "institution"), ("quantile", "p50"), ("target_group", "children"))
    assert exported[line] > 0
    assert {dict(k)["quantile"] for k in exported} == set(catalogue.BAND_QUANTILES)
    p = {q: exported[(line[0], ("quantile", q), line[2])] for q in catalogue.BAND_QUANTILES}
    assert p["p10"] <= p["p50"] <= p["p90"]


def test_the_band_is_recomputed_only_when_placements_or_budget_change() -> None:
    store = open_store("memory://")
    store.append(scenario_events())
    compute = Counting()
    cache = BandCache(seed=forecasting.DEFAULT_SEED, simulations=SIMULATIONS, compute=compute)
    registry = build_registry(kpi_source(store), Settings(metrics_as_of=AS_OF), band=cache)
    first = band(registry)
    band(registry)
    band(registry)
    assert compute.calls == 1
    store.append([b.unit_capacity_set("U-NEW", "2021-01-01", 3, name="Ny", kind="long_stay")])
    band(registry)
    assert compute.calls == 1  # no placement or budget changed
    more = [*scenario_events(), b.placement_started("PL-NEW", "2021-03-01", price=4000)]
    store.append(more[-1:])
    served = band(registry)  # the previous band while the new one is computed in the background
    assert served == first
    cache.wait(60)
    assert band(registry) == expected(more) != first
    assert compute.calls == 2


def test_an_empty_store_exports_the_zero_band_of_bundle_gauges() -> None:
    store = open_store("memory://")
    settings = Settings(metrics_as_of=AS_OF, forecast_simulations=SIMULATIONS)
    registry = build_registry(kpi_source(store), settings)
    assert "# TYPE casestream_forecast_band_sek gauge" in generate_latest(registry).decode()
    exported = band(registry)
    assert exported == expected([]) and set(exported.values()) == {0.0}


def test_above_the_sync_limit_the_first_band_comes_from_the_background() -> None:
    store = open_store("memory://")
    store.append(scenario_events())
    cache = BandCache(seed=forecasting.DEFAULT_SEED, simulations=SIMULATIONS, sync_limit=10)
    registry = build_registry(kpi_source(store), Settings(metrics_as_of=AS_OF), band=cache)
    assert band(registry) == {}  # 44 events > 10: the scrape does not wait for the forecast
    cache.wait(60)
    assert band(registry) == expected(scenario_events())
