"""Placement durations (vårdtid) as an empirical distribution, and residual life (återstående vårdtid).

KPIs, in the municipality's terms (BRIEF §3.5 "length of stay", §4 "placement length"):

* **Vårdtid** (duration) of a placement = departure day − start day, in nights (CONVENTIONS §1).
* **Överlevnadsfunktion** S(t) = the share of placements still open after t nights, estimated with
  Kaplan–Meier from the placements known at the forecast date: an ended placement is an observed
  duration, an open one is censored at its age (nights so far). Using only ended placements would
  bias durations short, because the long stays are the ones still open. A placement that was
  already running when the data begin enters at its age then (delayed entry, left truncation).
* **Återstående vårdtid** (empirical residual life) of a placement open for `age` nights: a draw from
  the durations D with D >= age, weighted by the Kaplan–Meier masses, minus `age`. The mass beyond the
  longest observed duration (a censored tail) means "lasts past anything seen". There the duration
  continues with a constant **tail hazard** (avslutstakt) = ended placements ÷ nights at risk, both
  counted beyond the median observed duration (a piecewise-exponential tail); a group where nothing
  ended that late keeps the placement open to year end (the reports' carry-forward rule, §4).
  Without the tail hazard, long stays (family homes) with a short history would never end.

Groups fall back from (category, target group, legal basis) to (category, target group), to category
and to all placements when a group has fewer than `min_tail` observed durations at or beyond the age.
Pure: randomness comes from the `random.Random` passed in.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import accumulate

GroupKey = tuple[str, ...]  # (), (category,), (category, tg), (category, tg, legal_basis)
Obs = tuple[int, bool, int]  # nights (duration or age so far), ended, entry age (0 = observed from start)


@dataclass(frozen=True, slots=True)
class Survival:
    """Kaplan–Meier masses: `times` ascending distinct observed durations, `masses` their probability.

    `tail` = 1 − Σ masses: the probability of lasting longer than every observed duration, and
    `tail_rate` the hazard per night beyond it (0 = never ends).
    """

    times: tuple[int, ...]
    masses: tuple[float, ...]
    tail: float
    observed: int  # ended placements behind the estimate
    cum: tuple[float, ...] = ()  # cum[i] = masses[0] + ... + masses[i]
    tail_rate: float = 0.0

    @staticmethod
    def estimate(durations: Iterable[Obs]) -> Survival:
        """Kaplan–Meier with delayed entry from (nights, ended, entry age) per placement.

        ended=False means censored at that age (still open). A placement already running when the
        observation began enters the risk set at its age then (left truncation): otherwise the
        long stays that happened to be running would bias the durations long.
        """
        rows = sorted(durations)
        stops = [t for t, _, _ in rows]
        entries = sorted(e for _, _, e in rows)
        surv = 1.0
        times: list[int] = []
        masses: list[float] = []
        i = 0
        while i < len(rows):
            t, events = rows[i][0], 0
            while i < len(rows) and rows[i][0] == t:
                events += rows[i][1]
                i += 1
            at_risk = (len(stops) - bisect_left(stops, t)) - (len(entries) - bisect_right(entries, t))
            if events and at_risk > 0:
                mass = surv * min(1.0, events / at_risk)
                times.append(t)
                masses.append(mass)
                surv -= mass
        observed = sum(1 for _, ended, _ in rows if ended)
        return Survival(tuple(times), tuple(masses), max(surv, 0.0), observed, tuple(accumulate(masses)),
                        tail_hazard(rows, times))

    def observed_from(self, age: int) -> int:
        """How many distinct observed durations lie at or beyond `age` (a support count)."""
        return len(self.times) - bisect_left(self.times, age)

    def draw_total(self, age: int, rng: random.Random) -> int | None:
        """A total duration D >= age drawn from S conditional on D >= age; None = beyond the data."""
        lo = bisect_left(self.times, age)
        base = self.cum[lo - 1] if lo > 0 else 0.0
        top = self.cum[-1] if self.cum else 0.0
        rest = top - base + self.tail
        if rest <= 0.0:
            return None
        k = bisect_right(self.cum, base + rng.random() * rest, lo)
        if k < len(self.cum):
            return self.times[k]
        if self.tail_rate <= 0.0:
            return None
        return max(age, self.times[-1] if self.times else 0) + int(rng.expovariate(self.tail_rate))

    def mean_residual(self, age: int, horizon: int) -> float:
        """Expected remaining nights, capped at `horizon` (the tail counts as the full horizon)."""
        lo = bisect_left(self.times, age)
        total = sum(self.masses[lo:]) + self.tail
        if total <= 0.0:
            return float(horizon)
        acc = sum(m * min(t - age, horizon) for t, m in zip(self.times[lo:], self.masses[lo:], strict=True))
        return (acc + self.tail * self._tail_mean(age, horizon)) / total

    def _tail_mean(self, age: int, horizon: int) -> float:
        """E[min(remaining, horizon)] for a tail draw (offset to the longest duration + exponential)."""
        offset = max(0, (self.times[-1] if self.times else 0) - age)
        if self.tail_rate <= 0.0 or offset >= horizon:
            return float(horizon)
        rest = horizon - offset
        return offset + (1 - math.exp(-self.tail_rate * rest)) / self.tail_rate


def tail_hazard(rows: list[Obs], times: list[int]) -> float:
    """Ended placements ÷ nights at risk beyond the median observed duration (0 without such ends)."""
    if not times:
        return 0.0
    late = times[len(times) // 2]
    ended = sum(1 for t, e, _ in rows if e and t >= late)
    exposure = sum(t - max(late, entry) for t, _, entry in rows if t > max(late, entry))
    return ended / exposure if ended and exposure > 0 else 0.0


def group_keys(category: str, target_group: str, legal_basis: str) -> tuple[GroupKey, ...]:
    """The fallback chain, finest first."""
    return ((category, target_group, legal_basis), (category, target_group), (category,), ())


@dataclass(frozen=True, slots=True)
class DurationModel:
    """A Survival per group key, and the rule that picks the finest group with enough support."""

    groups: dict[GroupKey, Survival]
    min_tail: int = 5
    rows: dict[GroupKey, tuple[Obs, ...]] = field(default_factory=dict)  # the observations, for bootstrap

    @staticmethod
    def estimate(rows: Iterable[tuple[str, str, str, Obs]], min_tail: int = 5) -> DurationModel:
        """From (category, target group, legal basis, (nights, ended, entry age)) per placement."""
        buckets: dict[GroupKey, list[Obs]] = {}
        for category, tg, basis, obs in rows:
            for key in group_keys(category, tg, basis):
                buckets.setdefault(key, []).append(obs)
        groups = {key: Survival.estimate(obs) for key, obs in sorted(buckets.items())}
        return DurationModel(groups, min_tail, {key: tuple(obs) for key, obs in buckets.items()})

    def key_for(self, chain: tuple[GroupKey, ...], age: int) -> GroupKey | None:
        """The finest group in the chain with at least `min_tail` observed durations >= age.

        Falls back to the coarsest group that exists (even with thin support) and None without data.
        """
        last: GroupKey | None = None
        for key in chain:
            found = self.groups.get(key)
            if found is None:
                continue
            if found.observed_from(age) >= self.min_tail:
                return key
            last = key
        return last

    def survival_for(self, chain: tuple[GroupKey, ...], age: int) -> Survival | None:
        key = self.key_for(chain, age)
        return None if key is None else self.groups[key]

    def bootstrap(self, key: GroupKey, rng: random.Random, replicates: int) -> tuple[Survival, ...]:
        """Kaplan–Meier estimates of resamples (with replacement) of the group's placements.

        Simulation i uses replicate i mod `replicates`, so the band also carries the uncertainty of
        the duration distribution itself (0 replicates: the point estimate only).
        """
        if replicates <= 0 or key not in self.rows:
            return (self.groups[key],)
        rows = self.rows[key]
        return tuple(Survival.estimate(rng.choices(rows, k=len(rows))) for _ in range(replicates))
