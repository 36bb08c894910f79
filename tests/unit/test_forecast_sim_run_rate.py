"""The forecast service shows the report's run-rate figure beside p10/p50/p90 (checks R11–R13, R12).

Figures from BRIEF §8 (Örebro 000, externa köp 2021): Barn institution, Jan–Aug price 5 356 kr per
dygn, implied persons 17.7 (R13), forecast 17.7 × 5 356 × 365 = 34.6 mnkr (R11), budget 31.0 mnkr,
deviation budget − forecast = −3.6 mnkr (R12). Barn familjehem externt 33 × 2 235 × 365 = 26.9 (R11).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from events.envelope import Event
from projections.forecast_model import SimConfig
from projections.lines import LineKey
from services.forecasting import Folded, compute
from tests.unit.builders import placement_ended, placement_started
from tests.unit.event_builders_economy import budget_set

AS_OF = date(2021, 8, 31)
INST = LineKey("institution", "children")
FH_EXT = LineKey("family_home_external", "children")


def _mnkr(value: Fraction) -> Decimal:
    return (Decimal(value.numerator) / Decimal(value.denominator) / 1_000_000).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP)


def history() -> list[Event]:
    out = [budget_set(2021, 31_000_000, category="institution", target_group="children")]
    for i in range(17):  # 17 placements all of Jan–Aug + one of 170 nights: 4 301 care days, 17.70 persons
        out.append(placement_started(f"i{i}", "2020-12-01", price=5356))
    out += [placement_started("i17", "2021-01-01", price=5356), placement_ended("i17", "2021-06-20")]
    for i in range(33):
        out.append(placement_started(f"f{i}", "2020-11-01", category="family_home_external", price=2235))
    return out


def test_run_rate_beside_the_band_reproduces_r11_r12_r13() -> None:
    view = compute(Folded.of(history()), 2021, AS_OF, seed=1, config=SimConfig(simulations=50))
    inst = view.run_rate[INST]
    assert inst.persons_per_day == Fraction(4301, 243)  # 17.70 (R13)
    assert _mnkr(inst.run_rate_total_sek) == Decimal("34.6")  # R11
    assert _mnkr(inst.deviation_sek) == Decimal("-3.6")  # R12: 31.0 − 34.6
    assert _mnkr(view.run_rate[FH_EXT].run_rate_total_sek) == Decimal("26.9")  # 33 × 2 235 × 365
    rows = {(r["category"], r["target_group"]): r for r in view.report().rows if r["row_type"] == "detail"}
    row = rows[("institution", "children")]
    assert row["run_rate_total_sek"] == inst.run_rate_total_sek
    assert row["budget_sek"] == 31_000_000
    band = view.base.lines[INST]
    assert (row["p10_sek"], row["p50_sek"], row["p90_sek"]) == (band.p10_sek, band.p50_sek, band.p90_sek)
    assert row["deviation_p50_sek"] == 31_000_000 - band.p50_sek
    assert band.to_date_sek == 5356 * 4301  # utfall hittills: every Jan–Aug night at 5 356
    total = view.report().rows[-1]
    assert total["row_type"] == "total" and total["p50_sek"] == view.base.total.p50_sek
