""""As reported on" next to "as known now", and the events that explain the difference.

The forecast per line (helårsprognos, `projections.reports.forecast`) is built twice from the same
business period: once from the events recorded by the end of the chosen day (`end_of_day`, as
`casestream report --known-at` reads a date) and once from everything known now. The difference is
explained by the events recorded after that day whose business date falls in the period, counted by
kind and type only (no ids, no persons on screen):

* **Sen registrering** (late registration): any event registered after the day;
* **Rättelse** (correction): `placement.corrected`;
* **Makulering** (retraction): `event.retracted`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Final

from events.timeutil import Period, end_of_day
from projections import smallcell
from services.queries_economy import FORECAST_PERSON_COLUMNS, forecast_report_of, row_counts
from services.queries_source import NOT_FIGURES, ChangeSource, KpiSource, reading
from services.queries_view import TableView, view

KIND_SV: Final = {"late": "Sen registrering", "correction": "Rättelse", "retraction": "Makulering"}
COMPARED: Final = ("persons_per_day", "forecast_total_sek", "forecast_deviation_sek")


def change_kind(event_type: str) -> str:
    if event_type == "placement.corrected":
        return "correction"
    if event_type == "event.retracted":
        return "retraction"
    return "late"


@dataclass(frozen=True, slots=True)
class ChangeCount:
    kind: str  # late | correction | retraction
    kind_sv: str
    event_type: str
    count: int


@dataclass(frozen=True, slots=True)
class AsOfComparison:
    reported_on: date
    then: TableView  # the forecast per line as known at the end of `reported_on`
    now: TableView  # as known now
    changes: tuple[ChangeCount, ...] | None  # None: the source cannot list events by record time

    @property
    def changed_events(self) -> int:
        return sum(c.count for c in self.changes or ())


def explaining_changes(source: ChangeSource, reported_on: date, period: Period) -> tuple[ChangeCount, ...]:
    """Events recorded after `reported_on` whose business date lies in the period, by kind and type."""
    counter: Counter[tuple[str, str]] = Counter()
    for event in source.recorded_after(end_of_day(reported_on)):
        if event.type in NOT_FIGURES:  # a logged view changes no figure (access.viewed)
            continue
        if period.contains(event.business_date):
            counter[(change_kind(event.type), event.type)] += 1
    order = list(KIND_SV)
    ranked = sorted(counter.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1]))
    return tuple(ChangeCount(kind, KIND_SV[kind], etype, n) for (kind, etype), n in ranked)


def as_of_comparison(source: KpiSource, period: Period, reported_on: date, *,
                     threshold: int = smallcell.DEFAULT_THRESHOLD) -> AsOfComparison:
    """The forecast per line as reported on a day and as known now, with the explaining events."""
    tables: list[TableView] = []
    with reading(source):
        for known_at in (end_of_day(reported_on), None):
            state = source.bundle(known_at)
            report = forecast_report_of(state, period)
            counts = row_counts(report, state, period, FORECAST_PERSON_COLUMNS)
            tables.append(view(report, counts, threshold, ("line", "target_group", *COMPARED)))
    changes = explaining_changes(source, reported_on, period) if isinstance(source, ChangeSource) else None
    return AsOfComparison(reported_on, tables[0], tables[1], changes)


@dataclass(frozen=True, slots=True)
class DiffRow:
    line: str
    target_group: str
    then: Decimal | str | None
    now: Decimal | str | None
    difference: Decimal | None  # None when either side is hidden or missing


def differences(comparison: AsOfComparison, key: str = "forecast_total_sek") -> list[DiffRow]:
    """Per line with figures (and the total): then, now and now − then, on the protected, rounded cells."""
    def ident(row: Mapping[str, object]) -> tuple[str, str]:
        return str(row.get("line") or ""), str(row.get("target_group") or "")
    then = {ident(r): r.get(key) for r in comparison.then.rows}
    out: list[DiffRow] = []
    for row in comparison.now.rows:
        before, after = _cell(then.get(ident(row))), _cell(row.get(key))
        if row.get("row_type") != "total" and not any(v not in (None, 0) for v in (before, after)):
            continue  # a line with nothing then and nothing now
        diff = after - before if isinstance(after, Decimal) and isinstance(before, Decimal) else None
        out.append(DiffRow(ident(row)[0], ident(row)[1], before, after, diff))
    return out


def _cell(value: object) -> Decimal | str | None:
    if isinstance(value, int):
        return Decimal(value)
    return value if isinstance(value, Decimal | str) else None
