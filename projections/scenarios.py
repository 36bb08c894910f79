"""Scenarios (scenarier, "tänk om"-antaganden) applied to a forked forecast plan, and their comparison.

A scenario is data: a name and a list of changes, parsed from a plain dict (the services read YAML or
JSON files). Each change acts on a copy of the base `Plan`; the live state is never touched, and the
forecast model (durations, inflow, prices) stays the one estimated from the base plan:

* `end_placements` — "10 färre institutionsplaceringar från juni": the `count` most recently started
  placements of a line that are open on `from` end that day (a registered departure day).
* `inflow` — new placements of a line (or all lines) × `factor` from `from` on (0 = no new ones).
* `price` — "priser +4 % från juli": the line's (or every line's) cost per night × (1 + percent/100),
  or × `factor`, from `from` on, for open and new placements alike.
* `close_unit` — "en enhet stängs i höst": the own unit's stays open on `from` end there that day (its
  places are 0 from then, so its beläggning is 0) and continue as purchased placements at `price_sek`
  per `price_unit` (category: the stay's own unless given), so their cost enters externa köp.

Every change takes effect on its `from` day (`on` is accepted too). A change dated on or before the
forecast date is refused, naming the scenario and the change. A
scenario without effect (no changes, count 0, factor 1, 0 %) gives exactly the base forecast with
the same seed. **Skillnad mot basprognos** (difference) per line: the scenario's p50 − the base
p50, and the p10/p50/p90 of the per-simulation differences (the two share their random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from events.vocabulary import Category, PriceUnit, TargetGroup
from projections.forecast_model import Adjust, Plan, is_open, key_of
from projections.forecast_sim import QUANTILES, Forecast, LineBand
from projections.forecast_stats import quantile, to_sek
from projections.lines import LineKey
from projections.placement_facts import Placement, PriceSegment


class ScenarioError(ValueError):
    """A scenario that cannot be parsed or applied; the message names the scenario and the change."""


class _Change(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


_DAY = AliasChoices("from", "on")  # the day a change takes effect; `from` everywhere, `on` also accepted


class EndPlacements(_Change):
    kind: Literal["end_placements"]
    category: Category
    target_group: TargetGroup
    count: int = Field(ge=0)
    on: date = Field(validation_alias=_DAY)


class InflowChange(_Change):
    kind: Literal["inflow"]
    category: Category | None = None
    target_group: TargetGroup | None = None
    factor: Decimal = Field(ge=0)
    start: date = Field(alias="from")


class PriceChange(_Change):
    kind: Literal["price"]
    category: Category | None = None
    target_group: TargetGroup | None = None
    percent: Decimal | None = None
    factor: Decimal | None = Field(default=None, ge=0)
    start: date = Field(alias="from")

    @model_validator(mode="after")
    def _one_of(self) -> PriceChange:
        if (self.percent is None) == (self.factor is None):
            raise ValueError("give exactly one of percent and factor")
        return self

    def multiplier(self) -> Fraction:
        return Fraction(self.factor) if self.factor is not None else 1 + Fraction(self.percent or 0) / 100


class CloseUnit(_Change):
    kind: Literal["close_unit"]
    unit_id: str
    on: date = Field(validation_alias=_DAY)
    price_sek: Decimal = Field(ge=0)
    price_unit: PriceUnit = "day"
    category: Category | None = None


Change = Annotated[EndPlacements | InflowChange | PriceChange | CloseUnit, Field(discriminator="kind")]


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    changes: tuple[Change, ...] = ()


_MANY = TypeAdapter(list[Scenario])


def parse(raw: object, source: str = "scenario") -> list[Scenario]:
    """One scenario (a mapping) or several (a list, or a mapping with key `scenarios`)."""
    items = raw.get("scenarios", [raw]) if isinstance(raw, dict) else raw
    try:
        return _MANY.validate_python(items)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ScenarioError(f"{source}: {where}: {first['msg']} ({exc.error_count()} error(s))") from None


def _adjust(change: InflowChange | PriceChange, factor: Fraction) -> Adjust:
    return Adjust(change.start, factor, change.category, change.target_group)


def _end(change: EndPlacements, plan: Plan) -> Plan:
    key = LineKey(change.category, change.target_group)
    open_then = [p for p in plan.external()
                 if key_of(p) == key and p.start < change.on and is_open(p, change.on)]
    latest_first = sorted(open_then, key=lambda p: (p.start, p.placement_id), reverse=True)
    chosen = {p.placement_id for p in latest_first[:change.count]}
    placements = tuple(replace(p, stop=change.on) if p.placement_id in chosen and p.unit_id is None else p
                       for p in plan.placements)
    return replace(plan, placements=placements)


def _close(change: CloseUnit, plan: Plan) -> Plan:
    out: list[Placement] = []
    moved = 0
    for p in plan.placements:
        if p.unit_id != change.unit_id or p.start >= change.on or not is_open(p, change.on):
            out.append(p)
            continue
        moved += 1
        out.append(replace(p, stop=change.on))
        seg = PriceSegment(date.min, change.price_sek, change.price_unit)
        out.append(replace(p, placement_id=f"{p.placement_id}@{change.unit_id}", regime="purchased",
                           unit_id=None, category=change.category or p.category, start=change.on,
                           prices=(seg,)))
    unit = "dygn" if change.price_unit == "day" else "månad"
    note = (f"{plan.label}: enhet {change.unit_id} stängs {change.on}; {moved} pågående vistelser fortsätter "
            f"som köpt vård à {change.price_sek} kr/{unit}; platser och beläggning 0 från {change.on} "
            f"(beläggningsrapporten räknas inte om).")
    return replace(plan, placements=tuple(out), notes=(*plan.notes, note))


def _step(change: Change, plan: Plan) -> Plan:
    if isinstance(change, EndPlacements):
        return _end(change, plan)
    if isinstance(change, CloseUnit):
        return _close(change, plan)
    if isinstance(change, InflowChange):
        return replace(plan, inflow=(*plan.inflow, _adjust(change, Fraction(change.factor))))
    return replace(plan, prices=(*plan.prices, _adjust(change, change.multiplier())))


def apply(scenario: Scenario, base: Plan) -> Plan:
    """The scenario's plan: a modified copy of `base` (which is left as it was)."""
    plan = replace(base, label=scenario.name)
    for i, change in enumerate(scenario.changes, start=1):
        day = change.on if isinstance(change, EndPlacements | CloseUnit) else change.start
        if day <= base.as_of:
            raise ScenarioError(f"scenario {scenario.name!r}, change {i} ({change.kind}): {day} is not after "
                                f"the forecast date {base.as_of}")
        plan = _step(change, plan)
    return plan


@dataclass(frozen=True, slots=True)
class Difference:
    """Scenario − base for one line (or the total, key None), SEK exact at the edge."""

    key: LineKey | None
    p50_change_sek: Fraction  # scenario p50 − base p50
    p10_sek: Fraction  # percentiles of the per-simulation differences
    p50_sek: Fraction
    p90_sek: Fraction


def compare(base: Forecast, alt: Forecast) -> dict[LineKey | None, Difference]:
    """Per line and for the total (key None): how the scenario moves the forecast."""
    if base.simulations != alt.simulations:
        raise ScenarioError("compare: the forecasts have different numbers of simulations")
    keys = [*base.lines, *(k for k in alt.lines if k not in base.lines)]
    out: dict[LineKey | None, Difference] = {}
    per_line = {k: _diff(base, alt, k) for k in keys}
    for key in [*keys, None]:
        if key is None:
            b, a = base.total, alt.total
            diffs = [sum(col) for col in zip(*per_line.values(), strict=True)] if per_line else []
        else:
            b, a, diffs = _band_or_zero(base, key), _band_or_zero(alt, key), per_line[key]
        exact = (a.to_date_sek + a.known_sek) - (b.to_date_sek + b.known_sek)
        q = sorted(diffs)
        p10, p50, p90 = (exact + to_sek(quantile(q, x)) for x in QUANTILES)
        out[key] = Difference(key, a.p50_sek - b.p50_sek, p10, p50, p90)
    return out


def _band_or_zero(fc: Forecast, key: LineKey) -> LineBand:
    zero = Fraction(0)
    return fc.lines.get(key) or LineBand(key, zero, zero, zero, zero, zero, zero, 0, 0.0)


def _diff(base: Forecast, alt: Forecast, key: LineKey) -> list[float]:
    zero = (0.0,) * base.simulations
    return [x - y for x, y in zip(alt.samples.get(key, zero), base.samples.get(key, zero), strict=True)]
