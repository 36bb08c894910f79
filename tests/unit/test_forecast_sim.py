"""The simulated forecast (projections.forecast_sim) on simulated years with KNOWN generating rates.

`world(seed)` draws five years of placements per line: Poisson arrivals per day at a fixed rate,
durations 1 + Exponential(mean) nights (a different mean per legal basis), one fixed price per line.
The forecast sees the placements as known at the forecast date (ends after it unknown) and is scored
against the true year-end cost. Coverage: `SEEDS` seeds (40 at CASESTREAM_TEST_SCALE=small), and the
p10–p90 band must cover the truth in 60–95 % of them, per line and for the total (nominal 80 %).
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import NamedTuple

from hypothesis import given, settings
from hypothesis import strategies as st

from events.timeutil import Period
from projections.forecast_durations import Survival
from projections.forecast_inflow import seasonality
from projections.forecast_model import Adjust, SimConfig, estimate, plan_of
from projections.forecast_sim import forecast, simulate
from projections.lines import LineKey
from projections.placement_facts import Placement, PriceSegment

SCALE = {"small": 1, "medium": 3, "large": 10}[os.environ.get("CASESTREAM_TEST_SCALE", "small")]
SEEDS = 40 * SCALE
YEAR, AS_OF = 2021, date(2021, 6, 30)


class Line(NamedTuple):
    category: str
    target_group: str
    unit: str
    price: int
    per_day: float  # Poisson arrivals per day
    mean_nights: dict[str, float]  # by legal basis (drawn with equal probability)


LINES = (
    Line("institution", "children", "day", 5356, 2 / 30, {"SoL": 90, "LVU": 200}),
    Line("family_home_internal", "children", "month", 30000, 3 / 30, {"SoL": 400}),
    Line("institution_substance", "adults", "day", 2699, 4 / 30, {"SoL": 45, "LVM": 150}),
)


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def world(seed: int, lines: tuple[Line, ...] = LINES, years: int = 5, season: tuple[float, ...] | None = None,
          ) -> list[Placement]:
    """Every placement of `years` years up to the end of YEAR, with true start and end days."""
    rng, out = random.Random(seed), []
    first = date(YEAR - years + 1, 1, 1)
    for line in lines:
        for n in range((date(YEAR + 1, 1, 1) - first).days):
            day = first + timedelta(days=n)
            lam = line.per_day * (1.0 if season is None else season[day.month - 1])
            for _ in range(_poisson(rng, lam)):
                basis = rng.choice(sorted(line.mean_nights))
                nights = 1 + int(rng.expovariate(1 / line.mean_nights[basis]))
                pid = f"{line.category}-{len(out)}"
                out.append(Placement(pid, f"P{pid}", line.category, line.target_group,  # type: ignore[arg-type]
                                     "purchased", None, basis, "unknown", day,  # type: ignore[arg-type]
                                     day + timedelta(days=nights),
                                     (PriceSegment(date.min, Decimal(line.price), line.unit),)))  # type: ignore[arg-type]
    return out


def as_known(placements: list[Placement], as_of: date) -> list[Placement]:
    """What the forecast date knows: started placements, ends only once they happened."""
    cutoff = as_of + timedelta(days=1)
    return [replace(p, stop=p.stop if p.stop is not None and p.stop <= cutoff else None)
            for p in placements if p.start <= as_of]


def truth(placements: list[Placement]) -> dict[LineKey, Fraction]:
    out: dict[LineKey, Fraction] = {}
    for p in placements:
        key = LineKey(p.category, p.target_group)
        out[key] = out.get(key, Fraction(0)) + p.cost(Period.year(YEAR))
    return out


def test_band_covers_the_true_outcome_in_about_80_percent_of_seeds() -> None:
    config = SimConfig(simulations=300)
    hits: dict[LineKey | None, int] = {}
    for seed in range(SEEDS):
        placements = world(seed)
        actual = truth(placements)
        fc = forecast(plan_of(as_known(placements, AS_OF), YEAR, AS_OF), random.Random(seed), config)
        for key, value in [*actual.items(), (None, sum(actual.values(), Fraction(0)))]:
            band = fc.total if key is None else fc.lines[key]
            hits[key] = hits.get(key, 0) + (band.p10_sek <= value <= band.p90_sek)
    shares = {str(k): n / SEEDS for k, n in hits.items()}
    assert len(shares) == len(LINES) + 1
    print("coverage of the p10-p90 band over", SEEDS, "seeds:", shares)
    assert all(0.6 <= s <= 0.95 for s in shares.values()), shares


def test_same_inputs_and_seed_give_the_same_numbers_and_another_seed_others() -> None:
    plan = plan_of(as_known(world(3), AS_OF), YEAR, AS_OF)
    config = SimConfig(simulations=200)
    a = forecast(plan, random.Random(11), config)
    b = forecast(plan, random.Random(11), config)
    c = forecast(plan, random.Random(12), config)
    assert a == b
    assert a.total.p50_sek != c.total.p50_sek
    assert a.total.to_date_sek == c.total.to_date_sek  # utfall hittills is exact and seed-free


def test_money_is_exact_outcome_to_date_plus_rounded_simulated_part() -> None:
    placements = as_known(world(5), AS_OF)
    fc = forecast(plan_of(placements, YEAR, AS_OF), random.Random(1), SimConfig(simulations=100))
    inst = LineKey("institution", "children")
    to_date = sum((p.cost(Period(date(YEAR, 1, 1), AS_OF)) for p in placements
                   if LineKey(p.category, p.target_group) == inst), Fraction(0))
    band = fc.lines[inst]
    assert band.to_date_sek == to_date
    assert band.p10_sek <= band.p50_sek <= band.p90_sek
    assert ((band.p50_sek - to_date) * 100).denominator == 1  # whole öre
    assert fc.total.to_date_sek == sum((b.to_date_sek for b in fc.lines.values()), Fraction(0))


def test_a_closed_year_has_no_uncertainty_and_equals_the_outcome() -> None:
    placements = world(2)
    year_end = date(YEAR, 12, 31)
    fc = forecast(plan_of(as_known(placements, year_end), YEAR, year_end), random.Random(0),
                  SimConfig(simulations=50))
    for key, value in truth(placements).items():
        assert fc.lines[key].p10_sek == fc.lines[key].p90_sek == value


def test_registered_future_end_and_repricing_are_used_exactly() -> None:
    seg = (PriceSegment(date.min, Decimal(1000), "day"), PriceSegment(date(YEAR, 9, 1), Decimal(2000), "day"))
    p = Placement("x", "Px", "institution", "youth", "purchased", None, "SoL", "unknown", date(YEAR, 3, 1),
                  date(YEAR, 10, 1), seg)
    no_inflow = (Adjust(AS_OF, Fraction(0)),)  # one start in the window would otherwise give new ones
    plan = replace(plan_of([p], YEAR, AS_OF), inflow=no_inflow)
    fc = forecast(plan, random.Random(0), SimConfig(simulations=20))
    band = fc.lines[LineKey("institution", "youth")]
    assert band.to_date_sek == 1000 * 122  # 1 March – 30 June
    assert band.known_sek == 1000 * 62 + 2000 * 30  # July–August at 1000, September at 2000
    assert band.p10_sek == band.p90_sek == band.to_date_sek + band.known_sek


def test_residual_life_is_conditional_on_the_age_reached() -> None:
    surv = Survival.estimate([(10, True, 0), (20, True, 0), (30, True, 0), (40, False, 0)])
    rng = random.Random(0)
    draws = [surv.draw_total(25, rng) for _ in range(400)]
    assert all(d is not None and d >= 30 for d in draws)  # never below the age reached (25)
    beyond = sum(1 for d in draws if d is not None and d > 30) / len(draws)
    assert math.isclose(surv.tail, 0.25) and 0.4 < beyond < 0.6  # tail mass ½ of the mass beyond 25
    assert math.isclose(surv.tail_rate, 2 / 30)  # 2 ended beyond the median 20, 30 nights at risk there
    assert Survival.estimate([(40, False, 0)]).draw_total(5, rng) is None  # nothing ended: open to year end


def test_kaplan_meier_corrects_for_placements_still_open() -> None:
    """Ended-only durations would be biased short; censored open stays pull the estimate up."""
    busy = (Line("institution", "children", "day", 1, 0.5, {"SoL": 90, "LVU": 200}),)
    placements = as_known(world(8, busy), AS_OF)
    model = estimate(plan_of(placements, YEAR, AS_OF), SimConfig())
    surv = model.durations.groups[("institution", "children", "LVU")]
    ended = [(p.stop - p.start).days for p in placements if p.stop is not None and p.legal_basis == "LVU"]
    km_mean = surv.mean_residual(0, 3000)
    assert km_mean > sum(ended) / len(ended)
    assert abs(km_mean - 200) < 25  # the generating mean is 1 + 200 nights


def test_delayed_entry_corrects_a_history_that_starts_with_running_placements() -> None:
    """Data from 2019 on hold only the stays running then: without delayed entry they bias durations long."""
    busy = (Line("institution", "children", "day", 1, 0.5, {"LVU": 200}),)
    since = date(YEAR - 2, 1, 1)
    placements = [p for p in world(9, busy, years=8) if p.stop is not None and p.stop > since]
    plan = plan_of(as_known(placements, AS_OF), YEAR, AS_OF)
    fixed = estimate(plan, SimConfig()).durations.groups[("institution",)].mean_residual(0, 3000)
    naive = estimate(plan, SimConfig(observed_from=date(1900, 1, 1))).durations.groups[("institution",)]
    assert abs(fixed - 200) < 25
    assert naive.mean_residual(0, 3000) > fixed + 25


def test_seasonality_recovers_a_known_profile() -> None:
    season = (1.5, 1.5, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0, 1.5)
    busy = (Line("institution", "children", "day", 1, 3.0, {"SoL": 5}),)
    starts = [p.start for p in world(4, busy, season=season)]
    factors = seasonality(starts, date(YEAR, 1, 1))
    assert all(abs(f - s) < 0.15 for f, s in zip(factors, season, strict=True)), factors


def test_open_placements_and_expected_inflow_are_reported() -> None:
    placements = as_known(world(6), AS_OF)
    model = estimate(plan_of(placements, YEAR, AS_OF), SimConfig())
    fc = simulate(model, plan_of(placements, YEAR, AS_OF), random.Random(0), SimConfig(simulations=50))
    inst = fc.lines[LineKey("institution", "children")]
    open_now = [p for p in placements if p.stop is None and p.category == "institution"]
    assert inst.open_placements == len(open_now)
    assert abs(inst.expected_new - 2 / 30 * 184) < 6  # 184 days left at 2 per 30 days


@st.composite
def _placements(draw: st.DrawFn) -> list[Placement]:
    out = []
    for i in range(draw(st.integers(0, 12))):
        start = date(2019, 1, 1) + timedelta(days=draw(st.integers(0, 1200)))
        stop = draw(st.one_of(st.none(), st.integers(0, 600).map(lambda n, s=start: s + timedelta(days=n))))
        unit = draw(st.sampled_from(["day", "month"]))
        category, tg = draw(st.sampled_from([
            ("institution", "children"), ("family_home_internal", "youth"), ("contact_person", "children"),
            ("supported_housing", "adults")]))
        segs = [PriceSegment(date.min, Decimal(draw(st.integers(0, 40_000))), unit)]
        if draw(st.booleans()):
            segs.append(PriceSegment(start + timedelta(days=draw(st.integers(1, 300))),
                                     Decimal(draw(st.integers(0, 40_000))), unit))
        out.append(Placement(f"h{i}", f"Ph{i}", category, tg, "purchased", None,  # type: ignore[arg-type]
                             draw(st.sampled_from(["SoL", "LVU"])), "unknown", start, stop, tuple(segs)))
    return out


@settings(max_examples=25, deadline=None)
@given(placements=_placements(), as_of=st.dates(date(2020, 11, 1), date(2022, 2, 1)))
def test_any_plan_gives_an_ordered_band_above_the_exact_outcome_and_known_cost(
    placements: list[Placement], as_of: date
) -> None:
    plan = plan_of(as_known(placements, as_of), YEAR, as_of)
    fc = forecast(plan, random.Random(0), SimConfig(simulations=20))
    for band in [*fc.lines.values(), fc.total]:
        assert band.to_date_sek + band.known_sek <= band.p10_sek <= band.p50_sek <= band.p90_sek
    if as_of >= date(YEAR, 12, 31):
        assert fc.total.p90_sek == fc.total.to_date_sek + fc.total.known_sek
