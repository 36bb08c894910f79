"""Placements (placeringar) of the externa-köp lines, and the events of any one placement.

Each line of the calibration is a steady-state queue: placements arrive at the rate
λ = personer snitt per dygn ÷ mean length of stay (gamma(4) inter-arrival times, so intake is
regular), stay a gamma(2)-distributed number of days, and the history starts with an initial stock
of as many running placements as the target persons per day, their remaining days stratified over
the equilibrium residual distribution, so year 1 is already at level. Prices scatter log-normally
around the line's price (per day or per month). A placement is a stream `pl-<kommun>-<n>`:
`intervention.decided` (on its case), `placement.started` (v2), yearly `placement.repriced`
(indexation on 1 January for a share), `placement.ended`; noise: a wrong end or price registered
and put right by `placement.corrected`, and a mistaken repricing withdrawn by `event.retracted`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from events.vocabulary import Category, LegalBasis, PriceUnit, Regime, TargetGroup
from services.simulator.calibration import ExternalLine
from services.simulator.core import Context

END_REASONS = {"planned": 0.7, "breakdown": 0.1, "moved": 0.1, "own_home": 0.1}


@dataclass(frozen=True, slots=True)
class Spec:
    """What a placement is: its line, regime, unit, price and legal basis."""

    category: Category
    target_group: TargetGroup
    regime: Regime
    unit_id: str | None
    price_sek: int
    price_unit: PriceUnit
    legal_basis: LegalBasis


def line_spec(ctx: Context, line: ExternalLine) -> Spec:
    """A new placement of a line: its price drawn around the line's, its legal basis by the line's shares."""
    sigma = float(ctx.a("price_dispersion"))
    price = round(line.price_sek * math.exp(ctx.rng.gauss(0, sigma) - sigma * sigma / 2))
    r = ctx.rng.random()
    lvm = line.lvu_share + line.lvm_share
    basis: LegalBasis = "LVU" if r < line.lvu_share else "LVM" if r < lvm else "SoL"
    regime: Regime = "purchased"
    return Spec(line.category, line.target_group, regime, None, price, line.price_unit, basis)


def place(ctx: Context, spec: Spec, start: date, stop: date) -> str:
    """Emit one placement from `start` to departure day `stop` (events past the horizon are never due)."""
    pid, person = ctx.new_id("pl"), ctx.new_id("p")
    sex = "female" if ctx.rng.random() < ctx.cal.female_share else "male"
    data: dict[str, Any] = {
        "placement_id": pid, "person": person, "category": spec.category, "regime": spec.regime,
        "target_group": spec.target_group, "legal_basis": spec.legal_basis, "sex": sex,
        "price_sek": spec.price_sek, "price_unit": spec.price_unit}
    if spec.unit_id is not None:
        data["unit_id"] = spec.unit_id
    if start >= ctx.start:
        case = ctx.new_id("c")
        data["case_id"] = case
        ctx.emit("intervention.decided", case, start, {
            "decision": "granted", "intervention": spec.category, "legal_basis": spec.legal_basis,
            "person": person, "target_group": spec.target_group})
    noisy = ctx.rng.random() < float(ctx.a("placement_correction_share"))
    _started(ctx, pid, data, start, wrong_price=noisy and stop >= ctx.stop)
    if spec.regime == "purchased":
        _repricings(ctx, pid, spec, start, stop)
    if stop < ctx.stop:
        _ended(ctx, pid, start, stop, wrong_end=noisy)
    ctx.open_placements[pid] = (data, stop)
    return pid


def _started(ctx: Context, pid: str, data: dict[str, Any], start: date, *, wrong_price: bool) -> None:
    registered = ctx.registered(start)
    if not wrong_price:
        ctx.emit("placement.started", pid, start, data, registered, version=2)
        return
    ctx.emit("placement.started", pid, start, {**data, "price_sek": round(data["price_sek"] * 1.15)},
             registered, version=2)
    ctx.emit("placement.corrected", pid, start, {
        "placement_id": pid, "price_sek": data["price_sek"], "price_unit": data["price_unit"],
        "reason": "Felaktigt pris rättat"}, registered + timedelta(days=ctx.rng.randint(10, 40)))


def _ended(ctx: Context, pid: str, start: date, stop: date, *, wrong_end: bool) -> None:
    reason = ctx.pick(END_REASONS)
    if not wrong_end:
        ctx.emit("placement.ended", pid, stop, {"placement_id": pid, "reason": reason})
        return
    wrong = stop + timedelta(days=ctx.rng.randint(1, 7))
    registered = ctx.registered(wrong)
    ctx.emit("placement.ended", pid, wrong, {"placement_id": pid, "reason": reason}, registered)
    ctx.emit("placement.corrected", pid, wrong, {
        "placement_id": pid, "end": stop.isoformat(), "reason": "Felaktigt slutdatum rättat"},
        registered + timedelta(days=ctx.rng.randint(10, 40)))


def _repricings(ctx: Context, pid: str, spec: Spec, start: date, stop: date) -> None:
    """Indexation on 1 January for a share of running placements, plus a rare mistaken repricing."""
    price = spec.price_sek
    lo, hi = ctx.a("yearly_reprice_pct")
    for year in range(max(start.year + 1, ctx.start.year), ctx.stop.year + 1):
        day = date(year, 1, 1)
        if day >= stop or day >= ctx.stop or ctx.rng.random() >= float(ctx.a("yearly_reprice_share")):
            continue
        price = round(price * (1 + ctx.rng.uniform(float(lo), float(hi)) / 100))
        ctx.emit("placement.repriced", pid, day, {"placement_id": pid, "price_sek": price,
                                                  "price_unit": spec.price_unit})
    if ctx.rng.random() < float(ctx.a("spurious_reprice_share")):
        day = max(start, ctx.start) + timedelta(days=ctx.rng.randint(1, 60))
        if day < stop and day < ctx.stop:
            registered = ctx.registered(day)
            wrong = ctx.emit("placement.repriced", pid, day, {
                "placement_id": pid, "price_sek": price * 2, "price_unit": spec.price_unit}, registered)
            ctx.emit("event.retracted", pid, day, {"retracted_event_id": wrong["event_id"],
                                                   "reason": "Registrerad på fel placering"},
                     registered + timedelta(days=ctx.rng.randint(1, 14)))


@dataclass
class LineQueue:
    """One externa-köp line's arrival process (time of the next arrival, in days since the start)."""

    line: ExternalLine
    rate: float  # arrivals per day
    next_at: float = 0.0

    def gap(self, ctx: Context) -> float:
        return ctx.rng.gammavariate(4.0, 1 / (4.0 * self.rate))


def start_line(ctx: Context, line: ExternalLine) -> LineQueue:
    """The initial stock of a line (stratified remaining days) and its arrival process."""
    target = line.persons_per_day * ctx.scale
    n0 = int(target) + (1 if ctx.rng.random() < target - int(target) else 0)
    for i in range(n0):
        residual = ctx.residual_days(line.mean_days, (i + ctx.rng.random()) / n0)
        elapsed = ctx.residual_days(line.mean_days)
        start, stop = ctx.start - timedelta(days=elapsed), ctx.start + timedelta(days=residual)
        place(ctx, line_spec(ctx, line), start, stop)
    queue = LineQueue(line, target / line.mean_days)
    queue.next_at = queue.gap(ctx) * ctx.rng.random()
    return queue


def run_day(ctx: Context, queue: LineQueue, today: date) -> None:
    """Placements of the line arriving on `today`."""
    if queue.rate <= 0:
        return
    horizon = (today - ctx.start).days + 1
    while queue.next_at < horizon:
        start = ctx.start + timedelta(days=int(queue.next_at))
        stay = ctx.gamma_days(queue.line.mean_days)
        place(ctx, line_spec(ctx, queue.line), start, start + timedelta(days=stay))
        queue.next_at += queue.gap(ctx)
