"""The occupancy report (Beläggningsgrad, egna verksamheter), laid out as the reports' tables.

One detail row per unit with its places, one column per month and "Ack"; a subtotal row
"Totalt (ovägt medelvärde)" per kind (boenden längre perioder, boenden kortare tid, öppenvårdsgrupper),
and a total row over the residential kinds ("Samtliga egna boenden"). Monthly values, Ack and the
subtotals follow the reports' unweighted rule; two more columns give the day-weighted Ack and the
places-weighted Ack beside them. Columns: docs/reports.md (#occupancy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from fractions import Fraction
from typing import Final

from events.timeutil import Month, Period
from events.vocabulary import UnitKind
from projections import care_costs, occupancy
from projections.occupancy import Measure, UnitOccupancy
from projections.occupancy_totals import KINDS, PLACES_WEIGHTED, POOLED, REPORTED, group_occupancy
from projections.reports.base import Column, Report, Value

KIND_SV: Final[dict[UnitKind, str]] = {
    "long_stay": "Boenden längre perioder",
    "short_stay": "Boenden kortare tid",
    "group": "Öppenvårdsgrupper",
}
MONTH_SV: Final = ("Jan", "Feb", "Mar", "Apr", "Maj", "Jun", "Jul", "Aug", "Sep", "Okt", "Nov", "Dec")
RESIDENTIAL: Final[tuple[UnitKind, ...]] = ("long_stay", "short_stay")
DEFAULT_MEASURES: Final[dict[UnitKind, Measure]] = {"group": "individuals"}


def month_key(month: Month) -> str:
    return f"pct_{month.year:04d}_{month.month:02d}"


def _columns(period: Period) -> tuple[Column, ...]:
    months = period.months()
    multi_year = months[0].year != months[-1].year
    labels = [f"{MONTH_SV[m.month - 1]} {m.year}" if multi_year else MONTH_SV[m.month - 1] for m in months]
    month_cols = tuple(Column(month_key(m), lab, "percent") for m, lab in zip(months, labels, strict=True))
    return (
        Column("unit_kind", "Grupp", "text"),
        Column("unit_id", "Enhet (id)", "text"),
        Column("unit", "Verksamhet", "text"),
        Column("places", "Platser", "int"),
        *month_cols,
        Column("ack", "Ack", "percent"),
        Column("ack_day_weighted", "Ack dygnsviktad", "percent"),
        Column("ack_places_weighted", "Ack platsviktad", "percent"),
        Column("occupied_places_per_day", "Belagda platser per dygn", "number", decimals=1),
        Column("row_type", "Radtyp", "text"),
    )


def _unit_row(u: UnitOccupancy) -> dict[str, Value]:
    row: dict[str, Value] = {"unit_kind": u.kind, "unit_id": u.unit_id, "unit": u.name, "places": u.places}
    row.update({month_key(m.month): m.percent for m in u.months})
    row.update(ack=u.accumulated_unweighted, ack_day_weighted=u.accumulated_day_weighted,
               ack_places_weighted=None, occupied_places_per_day=u.occupied_places_per_day, row_type="detail")
    return row


def _total_row(units: list[UnitOccupancy], kind: str, label: str, row_type: str) -> dict[str, Value]:
    reported = group_occupancy(units, REPORTED)
    per_day: Fraction | None = None
    if any(u.occupied_places_per_day is not None for u in units):
        per_day = sum((u.occupied_places_per_day or Fraction(0) for u in units), Fraction(0))
    row: dict[str, Value] = {"unit_kind": kind, "unit_id": None, "unit": label, "places": reported.places}
    row.update({month_key(m): v for m, v in reported.months.items()})
    row.update(ack=reported.accumulated, ack_day_weighted=group_occupancy(units, POOLED).accumulated,
               ack_places_weighted=group_occupancy(units, PLACES_WEIGHTED).accumulated,
               occupied_places_per_day=per_day, row_type=row_type)
    return row


def _block(ordered: list[UnitOccupancy], kind: UnitKind) -> list[dict[str, Value]]:
    members = [u for u in ordered if u.kind == kind]
    subtotal = _total_row(members, kind, f"{KIND_SV[kind]}: Totalt (ovägt medelvärde)", "subtotal")
    return [*(_unit_row(u) for u in members), subtotal]


def occupancy_report(
    units_state: occupancy.State, placements_state: care_costs.State, period: Period, *,
    measures: Mapping[UnitKind, Measure] | None = None, data_through: date | None = None,
    total_kinds: Iterable[UnitKind] = RESIDENTIAL,
) -> Report:
    """Beläggningsgrad per unit and month with Ack, per-kind subtotals and the residential total."""
    chosen = DEFAULT_MEASURES if measures is None else measures
    units = occupancy.monthly_occupancy(units_state, placements_state, period, measures=chosen,
                                        data_through=data_through)
    ordered = sorted(units.values(), key=lambda u: (u.name, u.unit_id))
    totals = tuple(total_kinds)
    present = [k for k in KINDS if any(u.kind == k for u in ordered)]
    rows: list[dict[str, Value]] = []
    for kind in [k for k in present if k in totals]:
        rows.extend(_block(ordered, kind))
    everyone = [u for u in ordered if u.kind in totals]
    if everyone:
        rows.append(_total_row(everyone, "all", "Samtliga egna boenden: Totalt (ovägt medelvärde)", "total"))
    for kind in [k for k in present if k not in totals]:
        rows.extend(_block(ordered, kind))
    notes = [f"Placeringar i enhet utan platser (räknas inte i beläggningen): {u}"
             for u in occupancy.unknown_units(units_state, placements_state, period)]
    if data_through is not None and data_through < period.end:
        notes.append(f"Månader efter {data_through.isoformat()} är inte rapporterade ännu ('-') "
                     "och ingår inte i Ack.")
    return Report("occupancy", f"Beläggningsgrad egna verksamheter {period}", _columns(period), rows, notes)
