"""The simulator's calibration: one data file naming its source report (CONVENTIONS §10).

`load()` reads `services/data/calibration_orebro_2021.json` (or another file of the same shape) into
typed, frozen records. The file holds the report figures the simulator aims at (personer snitt per
dygn, kostnad snitt per dygn, platser, beläggningsgrad, aktualiseringar, påbörjade utredningar, budget)
and, under `assumptions` keys, the modelling choices that are not report figures. This module and
the file are the only places report figures enter the product.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from events.vocabulary import Category, PriceUnit, TargetGroup, UnitKind

DEFAULT_FILE: Final = Path(__file__).resolve().parent.parent / "data" / "calibration_orebro_2021.json"


class CalibrationError(ValueError):
    """The calibration file is missing a field or holds a bad value (the message names it)."""


@dataclass(frozen=True, slots=True)
class ExternalLine:
    """One externa-köp line: its targets, budget and the modelling assumptions of its placements."""

    category: Category
    target_group: TargetGroup
    persons_per_day: float  # target concurrent persons (cost-only lines: assumed concurrency)
    price_sek: float  # per day or per month (cost-only lines: derived day price)
    price_unit: PriceUnit
    budget_sek: float
    budget_persons_per_day: float | None
    budget_price_sek: float | None
    mean_days: float
    lvu_share: float
    lvm_share: float

    @property
    def key(self) -> str:
        return f"{self.category}/{self.target_group}"


@dataclass(frozen=True, slots=True)
class Unit:
    """An own unit (egen regi) with its places, target occupancy and who it serves."""

    unit_id: str
    name: str
    kind: UnitKind
    places: int
    occupancy: float  # target share (0.95 = 95 %); groups: enrolled individuals per place and month
    category: Category
    target_group: TargetGroup
    mean_days: float


@dataclass(frozen=True, slots=True)
class Calibration:
    name: str
    municipality: str
    year: int
    source: str
    intake_per_year: float
    female_share: float
    intake: dict[str, Any]  # the intake assumptions (mixes, seasonality, lags)
    investigations_per_month: dict[TargetGroup, float]
    investigations: dict[str, Any]
    lines: tuple[ExternalLine, ...]
    units: tuple[Unit, ...]
    vat_refund_budget_sek: float
    vat_refund_outcome_sek: float  # per year, posted monthly
    assumptions: dict[str, Any]


def _get(raw: dict[str, Any], key: str, where: str) -> Any:
    if key not in raw:
        raise CalibrationError(f"calibration: {where}.{key} is missing")
    return raw[key]


def _line(raw: dict[str, Any], where: str) -> ExternalLine:
    a = _get(raw, "assumptions", where)
    mean_days = float(_get(a, "mean_days", where + ".assumptions"))
    if "persons_per_day" in raw:
        persons, price, unit = float(raw["persons_per_day"]), float(raw["price_sek"]), raw["price_unit"]
    else:  # cost-only line: concurrency assumed (or from individuals per month), price from the cost
        months = 365 / 12
        persons = float(a["concurrent"]) if "concurrent" in a else (
            float(_get(raw, "individuals_per_month", where)) * mean_days / (mean_days + months))
        price, unit = float(_get(raw, "forecast_total_mnkr", where)) * 1e6 / (persons * 365), "day"
    return ExternalLine(
        category=_get(raw, "category", where), target_group=_get(raw, "target_group", where),
        persons_per_day=persons, price_sek=price, price_unit=unit,
        budget_sek=float(_get(raw, "budget_mnkr", where)) * 1e6,
        budget_persons_per_day=raw.get("budget_persons_per_day"),
        budget_price_sek=raw.get("budget_price_sek"),
        mean_days=mean_days, lvu_share=float(a.get("lvu_share", 0)), lvm_share=float(a.get("lvm_share", 0)),
    )


def _unit(raw: dict[str, Any], where: str) -> Unit:
    a = _get(raw, "assumptions", where)
    return Unit(
        unit_id=_get(raw, "unit_id", where), name=_get(raw, "name", where), kind=_get(raw, "kind", where),
        places=int(_get(raw, "places", where)), occupancy=float(_get(raw, "occupancy_pct", where)) / 100,
        category=_get(a, "category", where), target_group=_get(a, "target_group", where),
        mean_days=float(_get(a, "mean_days", where)),
    )


def parse(raw: dict[str, Any]) -> Calibration:
    """A `Calibration` from the decoded file; a missing field raises `CalibrationError` naming it."""
    intake, inv = _get(raw, "intake", ""), _get(raw, "investigations", "")
    return Calibration(
        name=_get(raw, "name", ""), municipality=_get(raw, "municipality", ""),
        year=int(_get(raw, "year", "")),
        source=str(_get(_get(raw, "source", ""), "seed", "source")),
        intake_per_year=float(_get(intake, "per_year", "intake")),
        female_share=float(_get(intake, "female_share", "intake")),
        intake=_get(intake, "assumptions", "intake"),
        investigations_per_month=_get(inv, "per_month", "investigations"),
        investigations=_get(inv, "assumptions", "investigations"),
        lines=tuple(_line(x, f"external_lines[{i}]") for i, x in enumerate(_get(raw, "external_lines", ""))),
        units=tuple(_unit(x, f"units[{i}]") for i, x in enumerate(_get(raw, "units", ""))),
        vat_refund_budget_sek=float(_get(raw, "vat_refund_budget_mnkr", "")) * 1e6,
        vat_refund_outcome_sek=float(_get(raw, "vat_refund_forecast_mnkr", "")) * 1e6,
        assumptions=_get(raw, "assumptions", ""),
    )


def load(path: Path = DEFAULT_FILE) -> Calibration:
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CalibrationError(f"calibration file {path}: {exc}") from None
    return parse(raw)
