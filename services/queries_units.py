"""Beläggning (occupancy of own units): the report's table, the units × months matrix, places over time.

Figures come from `projections.reports.occupancy.occupancy_report` (beläggningsgrad per unit and
month, Ack, the kinds' "Totalt (ovägt medelvärde)" and "Samtliga egna boenden"). Small cells: a
unit's month rests on the distinct persons with a night in the unit that month, its Ack and
belagda platser per dygn on the unit's persons over the period; a group row's month on the persons of
its units that month, its Ack on their persons over the period. The residential total's Ack is the
whole municipality and period and is shown; its months are a breakdown by month and are protected.
Places (platser) are not persons and are always shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Final

from events.timeutil import Period
from projections import bundle, care_costs, occupancy, smallcell
from projections.occupancy_totals import UnitOccupancy
from projections.reports.base import Report
from projections.reports.occupancy import MONTH_SV, RESIDENTIAL, month_key, occupancy_report
from services.queries_source import KpiSource, reading
from services.queries_view import Counts, TableView, view
from services.render import round_half_up

PERIOD_COLUMNS: Final = ("ack", "ack_day_weighted", "ack_places_weighted", "occupied_places_per_day")


def _persons_by_unit(state: bundle.State, period: Period) -> dict[str, frozenset[str]]:
    cells = care_costs.figures_by(state.care_costs, period, ("unit_id",), scope="own_units")
    return {str(key[0]): fig.persons for key, fig in cells.items()}


def _union(persons: dict[str, frozenset[str]], unit_ids: Iterable[str]) -> int:
    out: set[str] = set()
    for uid in unit_ids:
        out |= persons.get(uid, frozenset())
    return len(out)


def _counts(report: Report, state: bundle.State, period: Period,
            units: dict[str, UnitOccupancy]) -> list[Counts]:
    whole = _persons_by_unit(state, period)
    monthly = {m: _persons_by_unit(state, period.month_part(m)) for m in period.months()}
    out: list[Counts] = []
    for row in report.rows:
        kind, uid = str(row["unit_kind"]), row.get("unit_id")
        if uid is not None:
            members = [str(uid)]
        else:
            kinds = RESIDENTIAL if kind == "all" else (kind,)
            members = [u.unit_id for u in units.values() if u.kind in kinds]
        counts: dict[str, int | None] = {month_key(m): _union(per, members) for m, per in monthly.items()}
        period_n = None if row["row_type"] == "total" else _union(whole, members)
        counts.update({key: period_n for key in PERIOD_COLUMNS})
        out.append(counts)
    return out


def occupancy_table(source: KpiSource, period: Period, *, known_at: datetime | None = None,
                    threshold: int = smallcell.DEFAULT_THRESHOLD) -> TableView:
    """Beläggningsgrad egna verksamheter per unit and month with Ack and group totals, protected."""
    with reading(source):
        state = source.bundle(known_at)
        report = occupancy_report(state.occupancy, state.care_costs, period)
        units = occupancy.monthly_occupancy(state.occupancy, state.care_costs, period,
                                            measures={"group": "individuals"})
        counts = _counts(report, state, period, units)
    months = tuple(month_key(m) for m in period.months())
    return view(report, counts, threshold, ("unit", "places", *months, "ack", "occupied_places_per_day"))


@dataclass(frozen=True, slots=True)
class MatrixCell:
    """One unit × month cell of the heat map: the rounded percent, or None with the label "<5"."""

    unit: str
    month: str  # YYYY-MM
    month_label: str
    percent: Decimal | None
    label: str


def occupancy_matrix(table: TableView, period: Period) -> list[MatrixCell]:
    """The heat map's cells, read off the protected table (so a hidden cell stays hidden)."""
    cells: list[MatrixCell] = []
    for row in table.rows:
        if row.get("row_type") != "detail":
            continue
        for m in period.months():
            value = row.get(month_key(m))
            label = "" if value is None else str(value)
            cells.append(MatrixCell(str(row["unit"]), str(m), f"{MONTH_SV[m.month - 1]} {m.year}",
                                    value if isinstance(value, Decimal) else None, label))
    return cells


@dataclass(frozen=True, slots=True)
class PlacesPoint:
    unit: str
    month: str
    places: Decimal  # average places available that month (platser)


def places_over_time(source: KpiSource, period: Period) -> list[PlacesPoint]:
    """Platser per unit and month (average over the month's days inside the period)."""
    with reading(source):
        state = source.bundle(None)
        units = occupancy.monthly_occupancy(state.occupancy, state.care_costs, period)
    return [PlacesPoint(u.name, str(m.month), round_half_up(m.average_places, 1))
            for u in sorted(units.values(), key=lambda u: u.name) for m in u.months if m.days]
