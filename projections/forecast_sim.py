"""Simulated year-end forecast per externa-köp line (helårsprognos med osäkerhet): p10 / p50 / p90.

KPI, in the municipality's terms (BRIEF §3.4, §4; docs/forecast.md):

* **Prognos helår** of a line = **utfall hittills** (cost of the nights from 1 January to the
  forecast date, exact) + **känd återstående kostnad** (open placements whose departure day is
  already registered, exact) + the simulated cost of the rest of the year:
  - each open placement without a known end lasts a total duration drawn from the empirical
    durations of its category × target group × legal basis conditional on having lasted as long as
    it has (`forecast_durations`), at its own price segments (repricing known so far);
  - new placements arrive per line and month as Poisson counts around the seasonal inflow rate
    (`forecast_inflow`; the rate itself drawn from its posterior per simulation), start on a day of
    the month, last a duration drawn from their line's durations and cost the line's current price.
* **p10 / p50 / p90** = the 10th, 50th and 90th percentiles (linear interpolation between order
  statistics) of the simulated year-end totals; **medel** = their mean.

Money: the simulation sums floats of SEK (fast, and its error is far below the band's width); each
percentile of the simulated part is rounded half up to whole öre and then added, as an exact
`Fraction`, to the exact utfall and known cost. The total row's band is taken from the per-simulation
sums over lines (not the sum of the lines' percentiles).

Determinism: all draws come from the `random.Random` passed in. It gives one 64-bit root; each
placement and each line then gets its own stream derived from (root, its id) with SHA-256, so the same
inputs and seed give the same numbers, and a scenario shares its random numbers with the base
forecast for every placement it leaves alone (common random numbers: differences are sharp).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from itertools import accumulate, pairwise

from events.timeutil import Month, Period
from projections.forecast_durations import GroupKey, Survival, group_keys
from projections.forecast_model import Model, Plan, SimConfig, daily_rates, estimate, key_of
from projections.forecast_stats import poisson, quantile, stream, to_sek
from projections.lines import LineKey
from projections.placement_facts import Placement

QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True, slots=True)
class LineBand:
    """One line's simulated forecast; every money field is an exact Fraction of SEK."""

    key: LineKey | None  # None for the total over all lines
    to_date_sek: Fraction  # utfall hittills
    known_sek: Fraction  # känd återstående kostnad (registered future ends)
    p10_sek: Fraction
    p50_sek: Fraction
    p90_sek: Fraction
    mean_sek: Fraction
    open_placements: int  # open at the forecast date
    expected_new: float  # expected new placements over the rest of the year


@dataclass(frozen=True, slots=True)
class Forecast:
    label: str
    year: int
    as_of: date
    simulations: int
    lines: dict[LineKey, LineBand]
    total: LineBand  # key None: the band of the per-simulation sums over lines
    samples: dict[LineKey, tuple[float, ...]]  # simulated rest-of-year cost per simulation
    notes: tuple[str, ...] = ()  # the plan's notes (e.g. a closed unit)


def _cum(rates: list[float]) -> list[float]:
    return [0.0, *accumulate(rates)]


def _exact_parts(p: Placement, plan: Plan) -> tuple[Fraction, Fraction]:
    """(cost to date, known remaining cost when its end is registered after the cutoff, else 0)."""
    year_start, year_end = date(plan.year, 1, 1), plan.year_stop - timedelta(days=1)
    to_date = Fraction(0)
    if plan.as_of >= year_start:
        to_date = p.cost(Period(year_start, min(plan.as_of, year_end)))
    known = Fraction(0)
    if p.stop is not None and p.stop > plan.cutoff and plan.cutoff <= year_end:
        known = _known_cost(p, plan, Period(max(plan.cutoff, year_start), year_end))
    return to_date, known


def _known_cost(p: Placement, plan: Plan, rest: Period) -> Fraction:
    """Exact cost over `rest`, with the plan's price factors (constant between their start days)."""
    cuts = sorted({a.start for a in plan.prices if rest.start < a.start <= rest.end})
    bounds = [rest.start, *cuts, rest.stop]
    total = Fraction(0)
    for lo, hi in pairwise(bounds):
        factor = Fraction(1)
        for a in plan.prices:
            if a.applies(key_of(p), lo):
                factor *= a.factor
        total += p.cost(Period(lo, hi - timedelta(days=1))) * factor
    return total


class _Durations:
    """The bootstrap replicates of each duration group a simulation uses, made on first use."""

    def __init__(self, model: Model, root: int, replicates: int) -> None:
        self.model, self.root, self.replicates = model, root, replicates
        self.cache: dict[GroupKey, tuple[Survival, ...]] = {}

    def of(self, chain: tuple[GroupKey, ...], age: int) -> tuple[Survival, ...]:
        key = self.model.durations.key_for(chain, age)
        if key is None:
            return ()
        if key not in self.cache:
            rng = stream(self.root, "boot:" + "/".join(key))
            self.cache[key] = self.model.durations.bootstrap(key, rng, self.replicates)
        return self.cache[key]


def _simulate_open(p: Placement, reps: tuple[Survival, ...], plan: Plan, rng: random.Random,
                   n: int) -> list[float]:
    """Rest-of-year cost of one open placement (no registered end) in each of n simulations."""
    days = plan.horizon
    cum = _priced(daily_rates(p, plan, days), plan, key_of(p))
    age = max(0, (plan.cutoff - p.start).days)
    offset = (p.start - plan.cutoff).days  # negative when started before the cutoff
    out = []
    for i in range(n):
        total = reps[i % len(reps)].draw_total(age, rng) if reps else None
        nights = days if total is None else min(days, max(0, offset + total))
        out.append(cum[nights])
    return out


def _month_slots(plan: Plan, key: LineKey) -> list[tuple[int, int, float, list[float]]]:
    """Per remaining month: (first offset, days, Σ inflow factors of its days, their cumulative sums)."""
    out = []
    month = Month.of(plan.cutoff)
    while month.first < plan.year_stop:
        lo = max(plan.cutoff, month.first)
        hi = min(plan.year_stop, month.last + timedelta(days=1))
        span = range(max(0, (hi - lo).days))
        weights = [plan.factor(plan.inflow, key, lo + timedelta(days=i)) for i in span]
        if weights:
            out.append(((lo - plan.cutoff).days, len(weights), sum(weights), list(accumulate(weights))))
        month = month.next()
    return out


def _priced(rates: list[float], plan: Plan, key: LineKey) -> list[float]:
    """Cumulative cost over the nights from the cutoff, with the plan's price factors applied."""
    day = plan.cutoff
    return _cum([r * plan.factor(plan.prices, key, day + timedelta(days=i)) for i, r in enumerate(rates)])


def _simulate_new(
    key: LineKey, model: Model, plan: Plan, rng: random.Random, n: int, durations: _Durations
) -> tuple[list[float], float]:
    """Rest-of-year cost of the line's new placements per simulation, and the expected count."""
    days = plan.horizon
    cum = _priced(model.line_rates.get(key, [0.0] * days), plan, key)
    rate = model.inflow.rates.get(key)
    reps = durations.of(((key.category, key.target_group), (key.category,), ()), 0)
    slots = _month_slots(plan, key)
    season = model.inflow.season
    months = [Month.of(plan.cutoff + timedelta(days=s[0])).month - 1 for s in slots]
    expected = 0.0 if rate is None else rate.per_day * sum(
        season[m] * s[2] for m, s in zip(months, slots, strict=True))
    out = []
    for i in range(n):
        lam = 0.0 if rate is None else rate.draw(rng)
        cost = 0.0
        for m, (first, width, wsum, cw) in zip(months, slots, strict=True):
            for _arrival in range(poisson(rng, lam * season[m] * wsum)):
                start = first + rng.choices(range(width), cum_weights=cw)[0]
                total = reps[i % len(reps)].draw_total(0, rng) if reps else None
                stop = days if total is None else min(days, start + total)
                cost += cum[stop] - cum[start]
        out.append(cost)
    return out, expected


def _band(key: LineKey | None, exact: Fraction, known: Fraction, sims: list[float], n_open: int,
          expected: float) -> LineBand:
    ordered = sorted(sims)
    p10, p50, p90 = (exact + known + to_sek(quantile(ordered, q)) for q in QUANTILES)
    mean = exact + known + to_sek(sum(sims) / len(sims) if sims else 0.0)
    return LineBand(key, exact, known, p10, p50, p90, mean, n_open, expected)


@dataclass(slots=True)
class _Acc:
    """Per-line accumulators of one simulation run."""

    to_date: Fraction
    known: Fraction
    sims: list[float]
    open_now: int = 0


def _open_part(plan: Plan, root: int, acc: dict[LineKey, _Acc], durations: _Durations) -> None:
    """Add every external placement's exact parts and simulated rest-of-year cost to its line."""
    for p in plan.external():
        line = acc.get(key_of(p))
        if line is None:
            continue
        done, fixed = _exact_parts(p, plan)
        line.to_date += done
        line.known += fixed
        if p.stop is None and p.start < plan.year_stop:
            line.open_now += 1
            chain = group_keys(p.category, p.target_group, p.legal_basis)
            reps = durations.of(chain, max(0, (plan.cutoff - p.start).days))
            draws = _simulate_open(p, reps, plan, stream(root, f"open:{p.placement_id}"), len(line.sims))
            line.sims = [a + b for a, b in zip(line.sims, draws, strict=True)]
        elif p.stop is not None and p.stop > plan.cutoff:
            line.open_now += 1


def simulate(model: Model, plan: Plan, rng: random.Random, config: SimConfig | None = None) -> Forecast:
    """The forecast of every line of the model under the plan (base or scenario)."""
    config = config or SimConfig()
    n, root = config.simulations, rng.getrandbits(64)
    durations = _Durations(model, root, config.bootstrap)
    keys = sorted(set(model.lines()) | {key_of(p) for p in plan.external()})
    acc = {k: _Acc(Fraction(0), Fraction(0), [0.0] * n) for k in keys}
    _open_part(plan, root, acc, durations)
    bands: dict[LineKey, LineBand] = {}
    for key, line in acc.items():
        new, expected = _simulate_new(key, model, plan, stream(root, f"new:{key}"), n, durations)
        line.sims = [a + b for a, b in zip(line.sims, new, strict=True)]
        bands[key] = _band(key, line.to_date, line.known, line.sims, line.open_now, expected)
    totals = [sum(col) for col in zip(*(a.sims for a in acc.values()), strict=True)] if acc else [0.0] * n
    total = _band(None, sum((a.to_date for a in acc.values()), Fraction(0)),
                  sum((a.known for a in acc.values()), Fraction(0)), totals,
                  sum(a.open_now for a in acc.values()), sum(b.expected_new for b in bands.values()))
    samples = {k: tuple(a.sims) for k, a in acc.items()}
    return Forecast(plan.label, plan.year, plan.as_of, n, bands, total, samples, plan.notes)


def forecast(plan: Plan, rng: random.Random, config: SimConfig | None = None) -> Forecast:
    """Estimate the model from the plan and simulate it (the base forecast)."""
    config = config or SimConfig()
    return simulate(estimate(plan, config), plan, rng, config)
