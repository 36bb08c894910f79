"""A seeded event history for one or more municipalities, emitted in registration order.

`Simulation(config, rng)` sets up each municipality (own units and their stays, budgets, the
initial stock of placements) and `events()` walks the business days of the history: each day's
aktualiseringar and placement arrivals are generated, and every event registered before the next
day is emitted, so the output is ordered by `recorded_at` (ties by creation order). Events not yet
registered by `until` (late registrations, future closings and ends) are left out: the history is
the register as known at `until`. What is generated does not depend on `until` (only what is emitted),
so a later cutoff gives the same events plus the newly registered ones. Municipalities get their own
random streams drawn from `rng`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from services.simulator import intake, placements, reference, units
from services.simulator.calibration import Calibration, load
from services.simulator.core import Context, Raw, at


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate: years from 1 January of `start_year`, or from `start` when given."""

    start_year: int = 2021
    years: int = 2
    municipalities: tuple[str, ...] = ("1880",)
    scale: float = 1.0
    start: date | None = None  # overrides the first day (e.g. one month for a small demo)
    until: datetime | None = None  # drop what is registered later (default: the end of the history)
    calibration: Calibration = field(default_factory=load)

    @property
    def first_day(self) -> date:
        return self.start or date(self.start_year, 1, 1)

    @property
    def stop(self) -> date:
        """The first business day after the history."""
        return date(self.start_year + self.years, 1, 1)

    @property
    def cutoff(self) -> datetime:
        return self.until if self.until is not None else at(self.stop)


class Simulation:
    def __init__(self, config: SimulationConfig, rng: random.Random) -> None:
        self.config = config
        self.contexts = [
            Context(config.calibration, random.Random(rng.getrandbits(64)), m, config.first_day, config.stop,
                    config.scale) for m in config.municipalities]

    @property
    def days(self) -> int:
        """Business days the history covers (up to the cutoff)."""
        last = min(self.config.stop, self.config.cutoff.date() + timedelta(days=1))
        return (last - self.config.first_day).days

    def events(self) -> Iterator[Raw]:
        """The whole history in registration order (merged over municipalities)."""
        streams = [self._municipality(i, ctx) for i, ctx in enumerate(self.contexts)]
        for _, _, _, event in heapq.merge(*streams):
            yield event

    def _municipality(self, index: int, ctx: Context) -> Iterator[tuple[float, int, int, Raw]]:
        cutoff = self.config.cutoff
        for unit in ctx.cal.units:
            units.start_unit(ctx, unit)
        reference.budgets(ctx)
        reference.vat_postings(ctx)
        queues = [placements.start_line(ctx, line) for line in ctx.cal.lines]
        intake.initial_stock(ctx)
        day = ctx.start
        while day < ctx.stop and at(day) <= cutoff:  # generation does not depend on the cutoff
            intake.run_day(ctx, day)
            for queue in queues:
                placements.run_day(ctx, queue, day)
            day += timedelta(days=1)
            bound = min(at(day), cutoff + timedelta(microseconds=1))
            for ts, seq, event in ctx.timeline.pop_entries(bound):
                yield ts, index, seq, event

    def open_placements(self, ctx: Context) -> list[Raw]:
        """The started payloads of the placements still running at the end of the history."""
        return [data for data, stop in ctx.open_placements.values() if stop >= ctx.stop]


def simulate(config: SimulationConfig, seed: int) -> Iterator[Raw]:
    """Convenience: the history of `config` drawn from `random.Random(seed)`."""
    return Simulation(config, random.Random(seed)).events()
