"""Own units (egen regi): platser and stays that give the calibration's beläggningsgrad.

Each place of a unit is a slot that alternates a stay (gamma(4) around the unit's mean length) and
an empty spell; the mean empty spell makes the target occupancy: gap = stay × (1 − o) ÷ o for
residential units (occupied place-days ÷ available place-days). Outpatient groups are measured by
enrolled individuals per place and month (the reports' "individer"), about (month + stay) ÷ (stay +
gap) per slot, so their gap (or, above that ratio, their stay) is solved for the target. Slots start
at stratified points of their cycle, so the first year is at level. Stays are own-regime placements
with the unit's `unit_id`; the unit's places come from one `unit.capacity_set` at the start.
"""

from __future__ import annotations

from datetime import timedelta

from events.vocabulary import LegalBasis, Regime
from services.simulator.calibration import Unit
from services.simulator.core import Context, at
from services.simulator.placements import Spec, place

MONTH_DAYS = 365.25 / 12
SHAPE = 4.0


def cycle(unit: Unit) -> tuple[float, float]:
    """(mean stay, mean empty spell) in days for the unit's target occupancy."""
    stay, o = unit.mean_days, unit.occupancy
    if unit.kind != "group":
        return stay, stay * (1 - o) / o
    if o >= 1 + MONTH_DAYS / stay:
        return MONTH_DAYS / (o - 1), 0.0
    return stay, (stay + MONTH_DAYS) / o - stay


def spec(ctx: Context, unit: Unit) -> Spec:
    regime: Regime = "own"
    basis: LegalBasis = "SoL"
    return Spec(unit.category, unit.target_group, regime, unit.unit_id,
                int(ctx.a("own_unit_price_sek_per_day")), "day", basis)


def _slot(ctx: Context, unit: Unit, phase: float) -> None:
    """One place's stays from the start of the history to its end."""
    stay, gap = cycle(unit)
    pos = phase * (stay + gap)
    if pos < stay:  # occupied at the start: a stay already running, then an empty spell
        t = ctx.start + timedelta(days=max(1, round(stay - pos)))
        place(ctx, spec(ctx, unit), ctx.start - timedelta(days=round(pos)), t)
        t += timedelta(days=_gap(ctx, gap))
    else:
        t = ctx.start + timedelta(days=round(stay + gap - pos))
    while t < ctx.stop:
        length = ctx.gamma_days(stay, SHAPE)
        place(ctx, spec(ctx, unit), t, t + timedelta(days=length))
        t += timedelta(days=length + _gap(ctx, gap))


def _gap(ctx: Context, mean: float) -> int:
    return ctx.gamma_days(mean, SHAPE) if mean >= 0.5 else 0


def start_unit(ctx: Context, unit: Unit) -> None:
    """The unit's places (from the first day) and every stay in it."""
    ctx.emit("unit.capacity_set", f"unit:{unit.unit_id}", ctx.start, {
        "unit_id": unit.unit_id, "name": unit.name, "places": unit.places, "kind": unit.kind},
        at(ctx.start))
    for i in range(unit.places):  # own units keep their places whatever the scale
        _slot(ctx, unit, (i + ctx.rng.random()) / unit.places)
