"""Cases: aktualisering → förhandsbedömning → utredning → beslut om insats → avslut.

Per business day a Poisson number of aktualiseringar arrives (the calibration's yearly count with a
month profile and fewer on weekends). Each case is a stream `c-<kommun>-<n>`: `case.actualised`;
`assessment.completed` within the statutory 14 days for most; an `investigation.opened` for the share
that makes the calibration's påbörjade utredningar per month; its closing after a gamma-distributed
utredningstid (a share runs past 120 days); `intervention.decided` for a share; `case.closed`.
Some persons are already known (a new case for an earlier person). Noise: a few duplicate
registrations, each withdrawn later by `event.retracted` (makulering) on the case stream.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

from services.simulator.core import Context

MONTH_DAYS = 365.25 / 12


def day_rate(ctx: Context, day: date) -> float:
    """Expected aktualiseringar on a business day (seasonal and weekday profile, mean 1 over a year)."""
    a = ctx.cal.intake
    months = [float(f) for f in a["month_factors"]]
    month = months[day.month - 1] / (sum(months) / 12)
    weekend = float(a["weekend_factor"])
    weekday = (weekend if day.weekday() >= 5 else 1.0) / ((5 + 2 * weekend) / 7)
    return ctx.cal.intake_per_year / 365.25 * month * weekday * ctx.scale


def poisson(ctx: Context, lam: float) -> int:
    """A Poisson draw (Knuth; the rates here are below a few hundred)."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= ctx.rng.random()
        if p <= limit:
            return k
        k += 1


def investigation_share(ctx: Context, target_group: str) -> float:
    """P(förhandsbedömning → utredning) that gives the calibration's utredningar per month."""
    yearly = float(ctx.cal.investigations_per_month[target_group]) * 12  # type: ignore[index]
    intake = ctx.cal.intake_per_year * float(ctx.cal.intake["target_group_shares"][target_group])
    return min(1.0, yearly / intake)


def person(ctx: Context, target_group: str) -> tuple[str, str]:
    """(person id, sex): an already known person for a share of cases, else a new one."""
    known = ctx.known_persons.setdefault(target_group, [])
    if known and ctx.rng.random() < float(ctx.cal.intake["known_person_share"]):
        pid = ctx.rng.choice(known)
        return pid, ctx.person_sex[pid]
    pid = ctx.new_id("p")
    sex = "female" if ctx.rng.random() < ctx.cal.female_share else "male"
    ctx.person_sex[pid] = sex
    known.append(pid)
    if len(known) > 4000:
        del known[:1000]
    return pid, sex


def actualised(ctx: Context, day: date) -> None:
    """One aktualisering on `day` and the rest of its case."""
    a = ctx.cal.intake
    tg = ctx.pick(a["target_group_shares"])
    channel = ctx.pick(a["channel_shares"])
    pid, sex = person(ctx, tg)
    reporter = {"report": None, "application": "self", "request": "authority"}[channel]
    data: dict[str, Any] = {"person": pid, "channel": channel, "target_group": tg, "sex": sex,
                            "reporter_category": reporter or ctx.pick(a["reporter_shares"])}
    case = ctx.new_id("c")
    ctx.emit("case.actualised", case, day, data)
    if ctx.rng.random() < float(ctx.a("duplicate_registration_share")):
        duplicate(ctx, case, day, data)
    assessment(ctx, case, day, pid, tg)


def duplicate(ctx: Context, case: str, day: date, data: dict[str, Any]) -> None:
    """The same aktualisering registered twice; the copy is withdrawn (makulering) days later."""
    registered = ctx.registered(day)
    copy = ctx.emit("case.actualised", case, day, dict(data), registered)
    recorded = registered + timedelta(days=ctx.rng.randint(2, 20))
    ctx.emit("event.retracted", case, day, {"retracted_event_id": copy["event_id"],
                                           "reason": "Dubbelregistrering"}, recorded)


def assessment(ctx: Context, case: str, day: date, pid: str, tg: str) -> None:
    a = ctx.cal.intake
    late = ctx.rng.random() < float(a["assessment_late_share"])
    limit = int(a["assessment_days_max"])
    wait = ctx.rng.randint(limit + 1, 2 * limit + 2) if late else ctx.rng.randint(0, limit)
    done = day + timedelta(days=wait)
    if ctx.rng.random() < investigation_share(ctx, tg):
        ctx.emit("assessment.completed", case, done, {"outcome": "investigation", "target_group": tg})
        investigation(ctx, case, done, pid, tg)
        return
    outcome = "transferred" if ctx.rng.random() < 0.05 else "no_investigation"
    ctx.emit("assessment.completed", case, done, {"outcome": outcome, "target_group": tg})
    closed = done + timedelta(days=ctx.rng.randint(0, 3))
    ctx.emit("case.closed", case, closed, {"reason": outcome})


def investigation(ctx: Context, case: str, day: date, pid: str, tg: str, closed: date | None = None) -> None:
    a = ctx.cal.investigations
    inv = ctx.new_id("u")
    ctx.emit("investigation.opened", case, day, {"investigation_id": inv, "person": pid, "target_group": tg})
    if closed is None:
        closed = day + timedelta(days=ctx.gamma_days(float(a["mean_days"]), float(a["shape"])))
    r = ctx.rng.random()
    if r < float(a["transferred_share"]):
        outcome = "transferred"
    elif r < float(a["transferred_share"]) + float(a["intervention_share"]):
        outcome = "intervention"
    else:
        outcome = "no_intervention"
    ctx.emit("investigation.closed", case, closed, {"investigation_id": inv, "outcome": outcome})
    if outcome == "intervention" or ctx.rng.random() < float(a["refused_share"]):
        decision = "granted" if outcome == "intervention" else "refused"
        ctx.emit("intervention.decided", case, closed, {
            "decision": decision, "intervention": ctx.rng.choice(a["interventions"]), "legal_basis": "SoL",
            "person": pid, "target_group": tg})
    ctx.emit("case.closed", case, closed + timedelta(days=ctx.rng.randint(0, 10)), {"reason": "completed"})


def run_day(ctx: Context, today: date) -> None:
    """All aktualiseringar of one business day."""
    for _ in range(poisson(ctx, day_rate(ctx, today))):
        actualised(ctx, today)


def initial_stock(ctx: Context) -> None:
    """Utredningar already open on the first day (opened before it), so year 1 closes at level too.

    As many per target group as the opening rate × mean utredningstid, their elapsed and remaining
    days drawn from the equilibrium of the duration distribution (remaining days stratified).
    """
    a = ctx.cal.investigations
    mean, shape = float(a["mean_days"]), int(a["shape"])
    for tg, per_month in ctx.cal.investigations_per_month.items():
        n = round(float(per_month) * 12 / 365.25 * mean * ctx.scale)
        for i in range(n):
            opened = ctx.start - timedelta(days=ctx.residual_days(mean, shape=shape))
            closed = ctx.start + timedelta(days=ctx.residual_days(mean, (i + ctx.rng.random()) / n, shape))
            pid, _ = person(ctx, tg)
            case = ctx.new_id("c")
            arrived = opened - timedelta(days=ctx.rng.randint(0, int(ctx.cal.intake["assessment_days_max"])))
            channel = ctx.pick(ctx.cal.intake["channel_shares"])
            ctx.emit("case.actualised", case, arrived, {"person": pid, "channel": channel, "target_group": tg,
                                                        "sex": ctx.person_sex[pid]})
            ctx.emit("assessment.completed", case, opened, {"outcome": "investigation", "target_group": tg})
            investigation(ctx, case, opened, pid, tg, closed)
