"""Group totals of occupancy (beläggningsgrad "Totalt"), with the weighting chosen per KPI.

The IFO reports (Örebro 000) compute "Totalt (ovägt medelvärde)": each unit's Ack is the plain
mean of its monthly percentages, and a group total is the plain mean over units, not weighted by
places (BRIEF §3.1, R04–R05). Elderly care weights by places (BRIEF §3.1, last point). Both are
read off the same unit figures; `Weighting` says which:

* `accumulate`: "unweighted" (mean of monthly %) or "days" (each month weighted by its available
  place-days, i.e. Σ occupied ÷ Σ available);
* `across_units`: "unweighted" (mean over units) or "places" (each unit weighted by its average
  places; a month by its available place-days).

`REPORTED` is the reports' rule, `PLACES_WEIGHTED` the places-weighted mean of the reported Acks
(R05's 92.07), `POOLED` the plain pooled occupancy Σ occupied ÷ Σ available over all units.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from events.timeutil import Month
from events.vocabulary import UnitKind

Measure = Literal["place_days", "individuals"]


@dataclass(frozen=True, slots=True)
class MonthOccupancy:
    month: Month
    days: int  # days of the month inside the period
    occupied_place_days: int
    available_place_days: int
    individuals: int  # distinct persons with at least one night in the unit this month
    percent: Fraction | None  # None: no places, or not reported yet

    @property
    def average_places(self) -> Fraction:
        return Fraction(self.available_place_days, self.days)


@dataclass(frozen=True, slots=True)
class UnitOccupancy:
    unit_id: str
    name: str
    kind: UnitKind
    places: int  # places on the last day of the period
    months: tuple[MonthOccupancy, ...]

    @property
    def reported(self) -> list[MonthOccupancy]:
        return [m for m in self.months if m.percent is not None]

    @property
    def accumulated_unweighted(self) -> Fraction | None:
        """Ack as the reports: the plain mean of the reported months' percentages."""
        values = [m.percent for m in self.reported if m.percent is not None]
        return sum(values, Fraction(0)) / len(values) if values else None

    @property
    def accumulated_day_weighted(self) -> Fraction | None:
        """Each month weighted by its available place-days (Σ occupied ÷ Σ available for place-days)."""
        rows = self.reported
        weight = sum(m.available_place_days for m in rows)
        if not weight:
            return None
        weighted = (m.percent * m.available_place_days for m in rows if m.percent is not None)
        return sum(weighted, Fraction(0)) / weight

    @property
    def average_places(self) -> Fraction:
        """Average places over the reported months (the unit's weight in a places-weighted total)."""
        days = sum(m.days for m in self.reported)
        return Fraction(sum(m.available_place_days for m in self.reported), days) if days else Fraction(0)

    @property
    def occupied_places_per_day(self) -> Fraction | None:
        """Belagda platser per dygn over the reported months."""
        days = sum(m.days for m in self.reported)
        return Fraction(sum(m.occupied_place_days for m in self.reported), days) if days else None


@dataclass(frozen=True, slots=True)
class Weighting:
    accumulate: Literal["unweighted", "days"] = "unweighted"
    across_units: Literal["unweighted", "places"] = "unweighted"


REPORTED: Final = Weighting("unweighted", "unweighted")
PLACES_WEIGHTED: Final = Weighting("unweighted", "places")
POOLED: Final = Weighting("days", "places")
KINDS: Final[tuple[UnitKind, ...]] = ("long_stay", "short_stay", "group")


@dataclass(frozen=True, slots=True)
class GroupOccupancy:
    """A total over a set of units: monthly %, accumulated %, places (sum) and units counted."""

    unit_ids: tuple[str, ...]
    places: int
    months: dict[Month, Fraction | None]
    accumulated: Fraction | None


def unit_accumulated(unit: UnitOccupancy, rule: Weighting = REPORTED) -> Fraction | None:
    return unit.accumulated_unweighted if rule.accumulate == "unweighted" else unit.accumulated_day_weighted


def _mean(pairs: Sequence[tuple[Fraction, Fraction]], rule: Weighting) -> Fraction | None:
    """Mean of (value, weight) pairs: plain, or weighted when the rule weights by places."""
    if rule.across_units == "unweighted":
        return sum((v for v, _ in pairs), Fraction(0)) / len(pairs) if pairs else None
    weight = sum((w for _, w in pairs), Fraction(0))
    return sum((v * w for v, w in pairs), Fraction(0)) / weight if weight else None


def group_occupancy(units: Iterable[UnitOccupancy], rule: Weighting = REPORTED) -> GroupOccupancy:
    """The total over `units` by `rule` (units without a value in a month are left out of that month)."""
    members = list(units)
    months: dict[Month, Fraction | None] = {}
    for i, month in enumerate(members[0].months if members else ()):
        pairs = [(u.months[i].percent, Fraction(u.months[i].available_place_days))
                 for u in members if u.months[i].percent is not None]
        months[month.month] = _mean([(v, w) for v, w in pairs if v is not None], rule)
    acks = [(unit_accumulated(u, rule), u.average_places) for u in members]
    accumulated = _mean([(v, w) for v, w in acks if v is not None], rule)
    places = sum(u.places for u in members)
    return GroupOccupancy(tuple(u.unit_id for u in members), places, months, accumulated)


def by_kind(units: Iterable[UnitOccupancy], rule: Weighting = REPORTED) -> dict[UnitKind, GroupOccupancy]:
    """One total per unit kind present (long_stay, short_stay, group), in that order."""
    members = list(units)
    return {kind: group_occupancy([u for u in members if u.kind == kind], rule)
            for kind in KINDS if any(u.kind == kind for u in members)}
