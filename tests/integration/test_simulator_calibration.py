"""Calibration: one simulated year (2021), folded by `projections.bundle.fold`, against Örebro's 2021 report.

Expected values are read here from the seed report's tables (source: seed 000_97c42949ec7cf9cc.txt,
shared/domain/tables/000_external_purchases_2021.csv — 5.3.4 'Extern vård o behandling per
verksamhet', lines 2320-2419 — and 000_occupancy_own_facilities_2021.csv — 5.3.1 'Beläggning',
lines 1900-1950), not from the simulator's calibration file. Period: Jan–Aug 2021 (243 days), as the
report. Tolerances:

* personer snitt per dygn, every line with a persons-per-day measure (14 lines, internal family
  homes and jourhem included): ±15 % of the report value or ±3 persons, whichever is larger;
* kostnad snitt per dygn, every day-priced line (11 lines): ±10 %;
* beläggningsgrad Ack per own unit (9 long-stay, 3 short-stay, 2 outpatient groups measured by
  enrolled individuals, the report's "individer" table): ±8 percentage points;
* aktualiseringar in the whole year: between 12 000 and 13 000.
"""

from __future__ import annotations

import csv
import random
from datetime import date
from pathlib import Path

import pytest

from events import decode_dict
from events.timeutil import Period
from projections import bundle, care_costs, intake, occupancy
from services.simulator.history import Simulation, SimulationConfig

TABLES = Path(__file__).resolve().parents[3] / "shared" / "domain" / "tables"  # as tests/unit/test_checks_*
JAN_AUG = Period(date(2021, 1, 1), date(2021, 8, 31))
SEED = 2021

GROUPS = {"Barn": "children", "Unga": "youth", "Jourhem": "children", "Vuxna": "adults"}
LINES = {
    "Institutionsvård": "institution", "Familjehemsvård internt*": "family_home_internal",
    "Familjehemsvård externt": "family_home_external",
    "Personligt stöd/öppenvård (med dygnspriser)": "outpatient_day_priced",
    "Jourhem, kontrakterade*": "emergency_home_contracted",
    "Institutionsvård missbrukare": "institution_substance", "Öppenvård missbrukare": "outpatient_substance",
    "Boende missbrukare": "housing_substance", "Familjehem missbrukare": "family_home_substance",
    "Vård icke missbrukare": "care_non_substance",
}
PER_DAY = "avg_persons_per_day"
PERSONS = "persons_per_day_2021_jan_aug_actual__personer_snitt_per_dygn_utfall_perioden_2021"
COST = "cost_per_day_2021_jan_aug_actual_sek__kostnad_snitt_per_dygn_utfall_perioden_2021"
UNIT_TABLES = ("long_stay_residential", "short_stay_residential", "outpatient_groups_individuals")


def table(name: str) -> list[dict[str, str]]:
    with (TABLES / name).open(encoding="utf-8") as fh:
        next(fh)  # the "# source: ..." line
        return list(csv.DictReader(fh))


def report_lines() -> list[tuple[str, str, dict[str, str]]]:
    rows = table("000_external_purchases_2021.csv")
    return [(LINES[r["line_item__rad"]], GROUPS[r["target_group__malgrupp"]], r) for r in rows
            if r["row_type__radtyp"] == "detail" and r["persons_measure__personmatt"] == PER_DAY]


def report_units() -> dict[str, float]:
    rows = table("000_occupancy_own_facilities_2021.csv")
    ack = "occupancy_pct_accumulated_jan_aug__belaggningsgrad_ack"
    return {r["facility__verksamhet"].replace(" (individer)", ""): float(r[ack]) for r in rows
            if r["row_type__radtyp"] == "facility" and r["table_group__tabellgrupp"].startswith(UNIT_TABLES)}


@pytest.fixture(scope="module")
def state() -> bundle.State:
    sim = Simulation(SimulationConfig(start_year=2021, years=1), random.Random(SEED))
    return bundle.fold(decode_dict(e) for e in sim.events())


def line_figures(state: bundle.State) -> dict[tuple[str, str], care_costs.LineFigures]:
    lines = care_costs.line_figures(state.care_costs, JAN_AUG)
    return {(k.category, k.target_group): f for k, f in lines.items()}


def test_persons_per_day_per_line(state: bundle.State) -> None:
    figures = line_figures(state)
    misses = []
    for category, group, row in report_lines():
        expected = float(row[PERSONS])
        got = float(figures[(category, group)].persons_per_day)
        if abs(got - expected) > max(0.15 * expected, 3):
            misses.append(f"{category}/{group}: {got:.1f} vs {expected:g}")
    assert len(report_lines()) == 14
    assert not misses, misses


def test_cost_per_day_per_day_priced_line(state: bundle.State) -> None:
    figures = line_figures(state)
    rows = [(c, g, r) for c, g, r in report_lines() if r["price_unit__prisenhet"] == "SEK_per_day"]
    misses = []
    for category, group, row in rows:
        expected = float(row[COST])
        cost = figures[(category, group)].cost_per_day
        assert cost is not None, f"{category}/{group} has no care days"
        if abs(float(cost) - expected) > 0.10 * expected:
            misses.append(f"{category}/{group}: {float(cost):.0f} vs {expected:g}")
    assert len(rows) == 11
    assert not misses, misses


def test_own_unit_accumulated_occupancy(state: bundle.State) -> None:
    units = occupancy.monthly_occupancy(state.occupancy, state.care_costs, JAN_AUG,
                                        measures={"group": "individuals"})
    by_name = {u.name: u for u in units.values()}
    expected = report_units()
    assert len(expected) == 14
    misses = []
    for name, ack in expected.items():
        got = by_name[name].accumulated_unweighted
        assert got is not None, name
        if abs(float(got) - ack) > 8:
            misses.append(f"{name}: {float(got):.1f} vs {ack:g}")
    assert not misses, misses


def test_aktualiseringar_in_the_year(state: bundle.State) -> None:
    total = intake.figures(state.intake, Period.year(2021)).total
    assert 12_000 <= total <= 13_000, total
