"""Scenarios on forked forecast plans (projections.scenarios): parsing, effects, zero change == base."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from events.timeutil import Period
from projections import scenarios
from projections.forecast_model import Adjust, Plan, SimConfig, estimate, plan_of
from projections.forecast_sim import Forecast, simulate
from projections.lines import LineKey
from projections.placement_facts import Placement, PriceSegment
from projections.scenarios import ScenarioError
from tests.unit.test_forecast_sim import AS_OF, YEAR, as_known, world

CONFIG = SimConfig(simulations=200)
INST = LineKey("institution", "children")


def _run(spec: dict[str, object]) -> tuple[Forecast, Forecast, Plan, Plan]:
    plan = plan_of(as_known(world(21), AS_OF), YEAR, AS_OF)
    model = estimate(plan, CONFIG)
    base = simulate(model, plan, random.Random(5), CONFIG)
    (scenario,) = scenarios.parse(spec)
    forked = scenarios.apply(scenario, plan)
    return base, simulate(model, forked, random.Random(5), CONFIG), plan, forked


ZERO_CHANGES: list[dict[str, object]] = [
    {"name": "Ingen förändring", "changes": []},
    {"name": "Noll", "changes": [
        {"kind": "end_placements", "category": "institution", "target_group": "children", "count": 0,
         "on": "2021-07-01"},
        {"kind": "inflow", "factor": 1, "from": "2021-07-01"},
        {"kind": "price", "percent": 0, "from": "2021-07-01"},
        {"kind": "price", "category": "institution", "factor": "1.00", "from": "2021-09-01"},
    ]},
]


@pytest.mark.parametrize("spec", ZERO_CHANGES, ids=["empty", "zero-magnitude"])
def test_a_scenario_of_zero_change_equals_the_base_forecast_exactly(spec: dict[str, object]) -> None:
    base, alt, _, _ = _run(spec)
    assert replace(alt, label=base.label) == base
    diffs = scenarios.compare(base, alt)
    assert all(d.p10_sek == d.p50_sek == d.p90_sek == d.p50_change_sek == 0 for d in diffs.values())


def test_fewer_placements_from_june_ends_the_most_recent_and_lowers_the_forecast() -> None:
    spec = {"name": "10 färre institutionsplaceringar från juli", "changes": [
        {"kind": "end_placements", "category": "institution", "target_group": "children", "count": 3,
         "on": "2021-07-01"},
        {"kind": "inflow", "category": "institution", "target_group": "children", "factor": "0.5",
         "from": "2021-07-01"}]}
    base, alt, plan, forked = _run(spec)
    open_before = sorted((p for p in plan.placements if p.category == "institution" and p.stop is None),
                         key=lambda p: p.start)
    ended = [p for p in forked.placements if p.stop == date(2021, 7, 1)]
    assert {p.placement_id for p in ended} == {p.placement_id for p in open_before[-3:]}
    assert all(p.stop is None for p in open_before)  # the base plan is untouched
    assert alt.lines[INST].p50_sek < base.lines[INST].p50_sek
    other = LineKey("institution_substance", "adults")
    assert alt.lines[other] == base.lines[other]  # other lines share their random numbers
    assert scenarios.compare(base, alt)[INST].p90_sek < 0


def test_prices_plus_4_percent_from_september_is_exact_on_known_costs() -> None:
    seg = (PriceSegment(date.min, Decimal(1000), "day"),)
    p = Placement("x", "Px", "institution", "youth", "purchased", None, "SoL", "unknown", date(YEAR, 3, 1),
                  date(YEAR, 10, 1), seg)
    plan = replace(plan_of([p], YEAR, AS_OF), inflow=(Adjust(AS_OF, Fraction(0)),))
    model = estimate(plan, CONFIG)
    (scenario,) = scenarios.parse({"name": "Priser +4 %", "changes": [
        {"kind": "price", "percent": 4, "from": "2021-09-01"}]})
    base = simulate(model, plan, random.Random(0), CONFIG)
    alt = simulate(model, scenarios.apply(scenario, plan), random.Random(0), CONFIG)
    key = LineKey("institution", "youth")
    assert alt.lines[key].p50_sek - base.lines[key].p50_sek == Fraction(4, 100) * 1000 * 30
    assert scenarios.compare(base, alt)[None].p50_sek == 1200


def test_closing_a_unit_moves_its_stays_to_purchased_care_at_the_given_price() -> None:
    seg = (PriceSegment(date.min, Decimal(0), "day"),)
    stays = [Placement(f"s{i}", f"Ps{i}", "institution", "youth", "own", "U1", "SoL", "unknown",
                       date(YEAR, 2, 1), date(YEAR, 11, 1), seg) for i in range(3)]
    plan = replace(plan_of(stays, YEAR, AS_OF), inflow=(Adjust(AS_OF, Fraction(0)),))
    model = estimate(plan, CONFIG)
    (scenario,) = scenarios.parse({"name": "Enhet U1 stänger i höst", "changes": [
        {"kind": "close_unit", "unit_id": "U1", "on": "2021-09-01", "price_sek": 4000}]})
    forked = scenarios.apply(scenario, plan)
    alt = simulate(model, forked, random.Random(0), CONFIG)
    assert alt.lines[LineKey("institution", "youth")].p50_sek == 3 * 4000 * 61  # September + October
    own = [p for p in forked.placements if p.unit_id == "U1"]
    assert all(p.stop == date(2021, 9, 1) for p in own)  # the unit's stays end there: no occupancy
    assert all(p.care_days(Period(date(2021, 9, 1), date(2021, 12, 31))) == 0 for p in own)
    assert all(p.stop == date(YEAR, 11, 1) for p in plan.placements)  # the base plan is untouched
    assert alt.notes == ("Enhet U1 stänger i höst: enhet U1 stängs 2021-09-01; 3 pågående vistelser "
                         "fortsätter som köpt vård à 4000 kr/dygn; platser och beläggning 0 från 2021-09-01 "
                         "(beläggningsrapporten räknas inte om).",)


def test_bad_scenarios_are_refused_naming_the_scenario_the_change_and_the_field() -> None:
    with pytest.raises(ScenarioError, match=r"scen.yaml: 0\.changes\.0\.price.*percent and factor"):
        scenarios.parse({"name": "x", "changes": [{"kind": "price", "from": "2021-07-01"}]}, "scen.yaml")
    with pytest.raises(ScenarioError, match=r"0\.changes\.0\.end_placements\.count"):
        scenarios.parse({"name": "x", "changes": [{
            "kind": "end_placements", "category": "institution", "target_group": "children", "count": -1,
            "on": "2021-07-01"}]})
    with pytest.raises(ScenarioError, match="kind"):
        scenarios.parse({"name": "x", "changes": [{"kind": "weather", "from": "2021-07-01"}]})
    (early,) = scenarios.parse({"name": "För tidigt", "changes": [{"kind": "inflow", "factor": 0,
                                                                  "from": "2021-05-01"}]})
    with pytest.raises(ScenarioError, match=r"'För tidigt', change 1 \(inflow\): 2021-05-01 is not after"):
        scenarios.apply(early, plan_of([], YEAR, AS_OF))


def test_several_scenarios_parse_from_a_list_or_a_scenarios_key() -> None:
    two = [{"name": "a"}, {"name": "b", "changes": [{"kind": "inflow", "factor": 2, "from": "2021-08-01"}]}]
    assert [s.name for s in scenarios.parse(two)] == ["a", "b"]
    assert [s.name for s in scenarios.parse({"scenarios": two})] == ["a", "b"]
