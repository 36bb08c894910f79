"""Inflow of new placements (nya placeringar) per line, with seasonality, for the forecast.

KPIs, in the municipality's terms (BRIEF §3.5 inflow, §4 "seasonal knowledge"):

* **Säsongsfaktor** (seasonal factor) of calendar month m = the mean starts per day in month m over
  the complete months of the history ÷ the mean starts per day of all calendar months, pooled over
  the externa-köp lines (one line alone is too thin). Per day, so February is not "low" for having
  28 days. Factors are 1 until every calendar month has been seen at least `min_years` times.
* **Inflödestakt** (inflow rate) of a line = placement starts in the recent window (default the 12
  months before the forecast date) ÷ the window's seasonal exposure (Σ over its days of the day's
  seasonal factor), i.e. starts per day of average season.
* The expected starts on a future day = rate × the factor of its month.
  The simulation draws the rate itself from its Gamma posterior (starts + ½, exposure) — the
  Jeffreys prior of a Poisson rate — so a rate estimated from a few starts widens the band.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from events.timeutil import Month
from projections.lines import LineKey

FLAT: tuple[float, ...] = (1.0,) * 12


@dataclass(frozen=True, slots=True)
class LineRate:
    """Starts in the window and the window's seasonal exposure (in days of average season)."""

    starts: int
    exposure: float

    @property
    def per_day(self) -> float:
        return 0.0 if self.exposure <= 0 else self.starts / self.exposure

    def draw(self, rng: random.Random) -> float:
        """A rate from the Gamma(starts + ½, 1 / exposure) posterior (0 without exposure)."""
        if self.exposure <= 0:
            return 0.0
        return rng.gammavariate(self.starts + 0.5, 1.0 / self.exposure)


@dataclass(frozen=True, slots=True)
class InflowModel:
    season: tuple[float, ...]  # 12 factors, January first
    rates: Mapping[LineKey, LineRate]
    window: tuple[date, date]  # [first day, cutoff): the days the rates were counted over


def seasonality(starts: Iterable[date], cutoff: date, min_years: int = 2) -> tuple[float, ...]:
    """Seasonal factors from every complete month before `cutoff` (pooled starts)."""
    days = sorted(starts)
    if not days:
        return FLAT
    counts: dict[Month, int] = {}
    for d in days:
        if d < cutoff:
            counts[Month.of(d)] = counts.get(Month.of(d), 0) + 1
    month, last = Month.of(days[0]), Month.of(cutoff).prev()
    if Month.of(days[0]).first < days[0]:
        month = month.next()  # the first month is partial: history starts inside it
    seen: list[list[float]] = [[] for _ in range(12)]
    while month <= last:
        seen[month.month - 1].append(counts.get(month, 0) / month.days)
        month = month.next()
    if min(len(s) for s in seen) < min_years:
        return FLAT
    means = [sum(s) / len(s) for s in seen]
    overall = sum(means) / 12
    if overall <= 0:
        return FLAT
    return tuple(m / overall for m in means)


def exposure(first: date, cutoff: date, season: tuple[float, ...]) -> float:
    """Σ over the days first <= d < cutoff of season[month(d)] (days of average season)."""
    total, month = 0.0, Month.of(first)
    while month.first < cutoff:
        lo, hi = max(first, month.first), min(cutoff, month.last + timedelta(days=1))
        if lo < hi:
            total += season[month.month - 1] * (hi - lo).days
        month = month.next()
    return total


def window_start(cutoff: date, months: int, history_start: date) -> date:
    """`months` calendar months before the cutoff day, but not before the history begins."""
    month = Month.of(cutoff)
    for _ in range(months):
        month = month.prev()
    day = min(cutoff.day, month.days)
    return max(date(month.year, month.month, day), history_start)


def estimate(
    starts: Iterable[tuple[LineKey, date]], cutoff: date, lines: Iterable[LineKey], *,
    window_months: int = 12, min_years: int = 2,
) -> InflowModel:
    """The inflow model from every known start (line, day); starts on or after `cutoff` are ignored."""
    rows = [(k, d) for k, d in starts if d < cutoff]
    season = seasonality((d for _, d in rows), cutoff, min_years)
    history_start = min((d for _, d in rows), default=cutoff)
    first = window_start(cutoff, window_months, history_start)
    exp = exposure(first, cutoff, season)
    counts: dict[LineKey, int] = dict.fromkeys(lines, 0)
    for key, day in rows:
        if day >= first:
            counts[key] = counts.get(key, 0) + 1
    rates = {key: LineRate(n, exp) for key, n in sorted(counts.items())}
    return InflowModel(season, rates, (first, cutoff))
