"""Per-placement facts and their read-off: when a placement ran and what it cost.

A placement (placering) is known through its events: placering påbörjad (`placement.started`),
omprissatt (`placement.repriced`), avslutad (`placement.ended`), rättad (`placement.corrected`) and
makulering (`event.retracted`). The fold keeps them as slim `Fact`s keyed by event id; `resolve`
turns the facts that are not retracted into one `Placement` at query time, so a correction or a
retraction registered later changes past periods, whatever order the events arrived in.

Resolution rules (docs/design.md, "The pure core"):
* the placement's attributes and initial price come from its `placement.started`; if several live
  starts exist, the latest registered wins;
* corrections apply in registration order (recorded_at, then store position, then arrival); a
  corrected `start` or `price_sek` replaces the started value;
* the end is decided by the latest registered of: `placement.ended` (its business day),
  a correction's `end`, and a correction's `reopen` (no end);
* a repricing applies from its business day; two on the same day: the latest registered wins.

KPIs read off one placement (CONVENTIONS §1):
* vårddygn (care days) — the nights start <= d < stop inside the period;
* kostnad (cost) — day price × nights; a monthly price (månadsarvode) × covered days ÷ days in
  that month, so a full month costs the monthly price. Exact `Fraction` of SEK.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Literal
from uuid import UUID

from events.envelope import Event
from events.placement import PlacementCorrected, PlacementEnded, PlacementRepriced, PlacementStarted
from events.timeutil import STOCKHOLM, Month, Period
from events.vocabulary import Category, LegalBasis, PriceUnit, Regime, Sex, TargetGroup

FactKind = Literal["started", "repriced", "ended", "corrected"]
_NEVER = datetime.min.replace(tzinfo=STOCKHOLM)  # an event without recorded_at sorts first


@dataclass(frozen=True, slots=True)
class Fact:
    """The part of one placement event a KPI needs (much smaller than the event itself)."""

    event_id: UUID
    kind: FactKind
    day: date  # business day (Stockholm)
    recorded_at: datetime | None
    position: int | None
    arrival: int = field(compare=False)  # tie-break only: the order apply saw it in
    price: Decimal | None = None
    price_unit: PriceUnit | None = None
    start: date | None = None  # corrected start
    end: date | None = None  # corrected end
    reopen: bool = False
    started: PlacementStarted | None = None  # the started payload (attributes)

    def order(self) -> tuple[datetime, int, int]:
        return (self.recorded_at or _NEVER, self.position or 0, self.arrival)


def fact_of(event: Event, arrival: int) -> tuple[str, Fact] | None:
    """(placement_id, fact) for a placement event; None for any other event."""
    d = event.data
    if isinstance(d, PlacementStarted):
        fact = _fact(event, arrival, "started", d.price_sek, d.price_unit, started=d)
    elif isinstance(d, PlacementRepriced):
        fact = _fact(event, arrival, "repriced", d.price_sek, d.price_unit)
    elif isinstance(d, PlacementEnded):
        fact = _fact(event, arrival, "ended")
    elif isinstance(d, PlacementCorrected):
        fact = _fact(event, arrival, "corrected", d.price_sek, d.price_unit, d.start, d.end, d.reopen)
    else:
        return None
    return d.placement_id, fact


def _fact(
    event: Event, arrival: int, kind: FactKind, price: Decimal | None = None, unit: PriceUnit | None = None,
    start: date | None = None, end: date | None = None, reopen: bool = False,
    started: PlacementStarted | None = None,
) -> Fact:
    return Fact(event.event_id, kind, event.business_date, event.recorded_at, event.position, arrival,
                price, unit, start, end, reopen, started)


@dataclass(frozen=True, slots=True)
class PriceSegment:
    """A price in effect from `start` (date.min for the initial price) until the next segment."""

    start: date
    price: Decimal
    unit: PriceUnit


@dataclass(frozen=True, slots=True)
class Placement:
    """A placement as currently known: who, where, which line, when, at what price."""

    placement_id: str
    person: str
    category: Category
    target_group: TargetGroup
    regime: Regime
    unit_id: str | None
    legal_basis: LegalBasis
    sex: Sex
    start: date
    stop: date | None  # departure day (not a care day); None = open
    prices: tuple[PriceSegment, ...]

    def covered(self, period: Period) -> tuple[date, date] | None:
        """The covered days [lo, hi) inside the period (nights), or None."""
        lo = max(self.start, period.start)
        hi = period.stop if self.stop is None else min(self.stop, period.stop)
        return (lo, hi) if lo < hi else None

    def care_days(self, period: Period) -> int:
        span = self.covered(period)
        return 0 if span is None else (span[1] - span[0]).days

    def last_covered_day(self, period: Period) -> date | None:
        span = self.covered(period)
        return None if span is None else span[1] - timedelta(days=1)

    def price_on(self, day: date) -> PriceSegment:
        current = self.prices[0]
        for seg in self.prices[1:]:
            if seg.start > day:
                break
            current = seg
        return current

    def cost(self, period: Period) -> Fraction:
        """Kostnad for the covered days of the period (exact)."""
        span = self.covered(period)
        if span is None:
            return Fraction(0)
        whole, part = 0, Fraction(0)  # whole kronor in int arithmetic: Fraction's gcd per step was most
        for a, b, seg in self._pieces(*span):  # of a year's report time on a large history
            price = _exact(seg.price)
            if seg.unit == "day" and type(price) is int:
                whole += price * (b - a).days
            elif seg.unit == "day":
                part += price * (b - a).days
            else:
                part += _monthly_cost(Fraction(price), a, b)
        return part + whole

    def _pieces(self, lo: date, hi: date) -> Iterator[tuple[date, date, PriceSegment]]:
        for i, seg in enumerate(self.prices):
            nxt = self.prices[i + 1].start if i + 1 < len(self.prices) else date.max
            a, b = max(lo, seg.start), min(hi, nxt)
            if a < b:
                yield a, b, seg


@lru_cache(maxsize=4096)
def _exact(price: Decimal) -> int | Fraction:
    """A price exactly: an int when whole, else a Fraction (remembered: a history has few prices)."""
    value = Fraction(price)
    return value.numerator if value.denominator == 1 else value


def _monthly_cost(price: Fraction, lo: date, hi: date) -> Fraction:
    """price × (full months + Σ covered days ÷ days in month over the part months) for [lo, hi)."""
    full, parts = 0, Fraction(0)
    month = Month.of(lo)
    while month.first < hi:
        a, b = max(lo, month.first), min(hi, month.last + timedelta(days=1))
        days = (b - a).days
        if days == month.days:
            full += 1
        else:
            parts += Fraction(days, month.days)
        month = month.next()
    return price * (full + parts)


def resolve(facts: dict[UUID, Fact], placement_id: str, retracted: set[UUID]) -> Placement | None:
    """The placement as its live (not retracted) facts describe it; None if it has no live start."""
    return resolve_live([f for f in facts.values() if f.event_id not in retracted], placement_id)


def resolve_live(facts: list[Fact], placement_id: str) -> Placement | None:
    """The placement as these live facts describe it (the rules above); None without a start."""
    live = sorted(facts, key=Fact.order)
    starts = [f for f in live if f.started is not None]
    if not starts:
        return None
    chosen = starts[-1]  # the latest registered live start
    s = chosen.started
    assert s is not None
    start, price, unit = chosen.day, s.price_sek, s.price_unit
    stop: date | None = None
    repriced: dict[date, PriceSegment] = {}
    for f in live:
        if f.kind == "corrected":
            start = f.start or start
            if f.price is not None and f.price_unit is not None:
                price, unit = f.price, f.price_unit
            if f.end is not None or f.reopen:
                stop = f.end
        elif f.kind == "ended":
            stop = f.day
        elif f.kind == "repriced" and f.price is not None and f.price_unit is not None:
            repriced[f.day] = PriceSegment(f.day, f.price, f.price_unit)
    prices = (PriceSegment(date.min, price, unit), *(repriced[d] for d in sorted(repriced)))
    return Placement(placement_id, s.person, s.category, s.target_group, s.regime, s.unit_id,
                     s.legal_basis, s.sex, start, stop, prices)
