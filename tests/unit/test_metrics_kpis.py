"""The exporter's KPI gauges: values equal the projections' figures, small cells and ids never leave."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from events.timeutil import Period
from events.vocabulary import CATEGORIES, CHANNELS, TARGET_GROUPS
from projections import bundle, care_costs, occupancy
from services.metrics import catalogue
from services.metrics.exporter import build_registry
from services.metrics.kpis import Options, samples
from services.metrics.source import kpi_source
from services.settings import Settings
from services.store import open_store
from tests.unit.test_metrics_scenario import AS_OF, ids_in, scenario_events


def scrape(registry: object) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a scrape but the read duration (a timing, different every time)."""
    text = generate_latest(registry).decode()  # type: ignore[arg-type]
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name != "casestream_kpi_read_duration_seconds":
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture(scope="module")
def values() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    store = open_store("memory://")
    store.append(scenario_events())
    settings = Settings(metrics_as_of=AS_OF)
    return scrape(build_registry(kpi_source(store), settings))


def test_occupancy_gauges_equal_the_occupancy_projection(values: dict) -> None:
    state = bundle.fold(scenario_events())
    units = occupancy.monthly_occupancy(state.occupancy, state.care_costs, Period(date(2021, 1, 1), AS_OF))
    long_ = (("kind", "long_stay"), ("unit", "U-LONG"))
    assert values[("casestream_unit_occupancy_accumulated_ratio", long_)] == 0.8
    assert values[("casestream_unit_occupancy_month_ratio", long_)] == 0.8
    assert units["U-LONG"].accumulated_unweighted == 80
    short = (("kind", "short_stay"), ("unit", "U-SHORT"))
    assert values[("casestream_unit_occupancy_accumulated_ratio", short)] == 0.75
    assert values[("casestream_unit_places", short)] == 4


def test_line_gauges_equal_care_costs_and_forecast(values: dict) -> None:
    line = (("category", "institution"), ("target_group", "children"))
    state = bundle.fold(scenario_events())
    figs = care_costs.line_figures(state.care_costs, Period(date(2021, 1, 1), AS_OF))
    assert figs[next(k for k in figs if k.category == "institution")].persons_per_day == 6
    assert values[("casestream_line_persons_per_day", line)] == 6
    assert values[("casestream_line_cost_per_care_day_sek", line)] == 3000
    assert values[("casestream_line_budget_persons_per_day", line)] == 5
    assert values[("casestream_forecast_total_sek", line)] == 6 * 3000 * 365
    assert values[("casestream_forecast_budget_sek", line)] == 5_000_000
    assert values[("casestream_forecast_deviation_sek", line)] == 5_000_000 - 6 * 3000 * 365


def test_small_cells_are_not_exported(values: dict) -> None:
    youth_fh = (("category", "family_home_external"), ("target_group", "youth"))
    assert ("casestream_line_persons_per_day", youth_fh) not in values
    assert ("casestream_line_cost_per_care_day_sek", youth_fh) not in values
    assert ("casestream_intake_month_cases", (("channel", "application"),)) not in values
    assert ("casestream_investigations_overdue_by_group_cases", (("target_group", "youth"),)) not in values
    # zero reveals nobody and municipality-wide totals are shown
    assert values[("casestream_intake_month_cases", (("channel", "request"),))] == 0
    assert values[("casestream_intake_month_cases", (("channel", "report"),))] == 7
    assert values[("casestream_intake_month_all_cases", ())] == 9
    assert values[("casestream_investigations_overdue_cases", ())] == 8
    assert values[("casestream_investigations_overdue_by_group_cases", (("target_group", "children"),))] == 6


def test_intake_rolling_mean_and_limits(values: dict) -> None:
    assert values[("casestream_intake_rolling_mean_cases", ())] == pytest.approx(float(Fraction(4, 12)))
    assert values[("casestream_investigation_limit_days", ())] == 120
    assert values[("casestream_kpi_events", ())] == len(scenario_events())
    assert values[("casestream_store_head_position", ())] == len(scenario_events())
    assert values[("casestream_events_appended_total", ())] == len(scenario_events())


def test_labels_come_only_from_small_fixed_sets(values: dict) -> None:
    allowed = {"unit": {"U-LONG", "U-SHORT"}, "kind": {"long_stay", "short_stay", "group"},
               "category": set(CATEGORIES), "target_group": set(TARGET_GROUPS), "channel": set(CHANNELS),
               "weighting": {"unweighted", "weighted"}, "quantile": set(catalogue.BAND_QUANTILES)}
    ids = ids_in(scenario_events())
    for name, labels in values:
        assert name in catalogue.exposed_names()
        for key, value in labels:
            assert value in allowed[key], (name, key, value)
            assert value not in ids


def test_every_catalogue_family_is_present_even_on_an_empty_store() -> None:
    registry = build_registry(kpi_source(open_store("memory://")), Settings(metrics_as_of=AS_OF))
    text = generate_latest(registry).decode()
    types = {f.name: f.type for f in text_string_to_metric_families(text)}
    assert types == {s.name.removesuffix("_total"): s.kind for s in catalogue.KPI}
    assert types["casestream_events_appended"] == "counter"
    assert "# HELP casestream_unit_occupancy_accumulated_ratio Accumulated occupancy" in text


def test_new_events_show_on_the_next_scrape() -> None:
    store = open_store("memory://")
    events = scenario_events()
    store.append(events[:30])
    registry = build_registry(kpi_source(store), Settings(metrics_as_of=AS_OF))
    first = scrape(registry)
    store.append(events[30:])
    second = scrape(registry)
    assert first[("casestream_kpi_position", ())] == 30
    assert second[("casestream_kpi_position", ())] == len(events)
    assert second == scrape(registry)


def test_samples_are_a_pure_read_of_the_state() -> None:
    state = bundle.fold(scenario_events())
    opts = Options(AS_OF)
    assert samples(state, opts) == samples(state, opts)
    assert state.events == len(scenario_events())


def test_the_group_cache_equals_a_full_read_after_every_kind_of_event() -> None:
    from services.metrics.kpis import Cache
    from tests.unit import builders as b

    events = scenario_events()
    events += [b.retracted(events[2], AS_OF), b.retracted(events[-1], AS_OF), b.retracted(events[-5], AS_OF)]
    cache, live = Cache(), bundle.State()
    for i in range(0, len(events), 3):
        bundle.fold(events[i:i + 3], live)
        for day in (AS_OF, date(2021, 3, 31)):
            assert cache.samples(live, Options(day)) == samples(bundle.fold(events[:i + 3]), Options(day))


def test_events_appended_counts_every_writer_from_the_store_and_survives_a_restart(tmp_path: Path) -> None:
    """The counter is the store's head: another writer's appends count, a new exporter starts there."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    exporter_store, writer = open_store(url), open_store(url)
    events = scenario_events()
    try:
        writer.append(events[:30])
        registry = build_registry(kpi_source(exporter_store), Settings(metrics_as_of=AS_OF))
        assert scrape(registry)[("casestream_events_appended_total", ())] == 30
        writer.append(events[30:])
        assert scrape(registry)[("casestream_events_appended_total", ())] == len(events)
        restarted = build_registry(kpi_source(exporter_store), Settings(metrics_as_of=AS_OF))
        assert scrape(restarted)[("casestream_events_appended_total", ())] == len(events)
        assert "# TYPE casestream_events_appended_total counter" in generate_latest(restarted).decode()
    finally:
        exporter_store.close()
        writer.close()
