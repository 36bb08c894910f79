"""`casestream diff`: a report at two record times side by side, and the events behind each change.

One pass over the events recorded by the later time B folds two private states (known at A and known
at B). Events recorded in (A, B] are candidates; a candidate explains the report when its business
day falls in the period, when it concerns a placement that covers the period, when it is a budget /
ledger fact of the period's year, or when it corrects or retracts such an event. Each is classified:

* *efterregistrering* (late registration): its business day is on or before A's day, or it was
  recorded more than `LATE_DAYS` days after its business day;
* *rättelse* (correction): `placement.corrected`;
* *återkallelse* (retraction): `event.retracted`;
* *bakåtregistrerad* (back-registered): recorded_at more than a day before appended_at (CONVENTIONS §1).

Person ids are never shown: an event is named by type, position, id and its dates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from events import Event
from events.timeutil import Period, local_date
from projections import bundle
from projections.definitions import CURRENT, Params, build, needs
from projections.placement_compact import resolved_one
from services.audit import compare
from services.audit.digest import EventDigest, canonical_rows
from services.audit.replay import rebuild
from services.audit.source import Scope, back_registered, recorded_between
from services.store.base import EventStore

LATE_DAYS: Final = 7
FAMILIES: Final[dict[str, tuple[str, ...]]] = {
    "occupancy": ("placement.", "unit."),
    "external-purchases": ("placement.", "budget.", "ledger.", "forecast."),
    "forecast": ("placement.", "budget.", "ledger.", "forecast."),
    "lvu-lvm": ("placement.",),
    "intake": ("case.",),
    "investigations": ("investigation.", "assessment.", "case."),
    "budget": ("budget.", "ledger."),
}
ATTRIBUTES: Final = ("category", "target_group", "unit_id", "legal_basis")


@dataclass(frozen=True, slots=True)
class Cause:
    """An event that explains a change (never with its person id)."""

    kinds: tuple[str, ...]
    type: str
    position: int
    event_id: str
    occurred: date
    recorded: date | None
    appended: date
    attributes: dict[str, str]
    month: str


@dataclass
class Placement:
    start: date
    end: date | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def covers(self, period: Period) -> bool:
        return self.start <= period.end and (self.end is None or self.end > period.start)


@dataclass
class DiffResult:
    name: str
    version: int
    columns: list[Any]
    rows_a: list[dict[str, Any]]
    rows_b: list[dict[str, Any]]
    changes: list[compare.Change]
    causes: list[Cause]

    def causes_of(self, change: compare.Change) -> list[Cause]:
        """The causes whose attributes match the changed row (all causes for totals and unlabelled rows)."""
        row = dict(zip(compare.key_columns(self.columns), change.key, strict=False))
        if row.get("row_type") in ("total", "subtotal", "adjustment"):
            return self.causes
        return [c for c in self.causes if _matches(row, c)]


def _matches(row: dict[str, Any], cause: Cause) -> bool:
    for attr in ATTRIBUTES:
        if row.get(attr) and attr in cause.attributes and row[attr] != cause.attributes[attr]:
            return False
    month = row.get("month")
    return not (month and isinstance(month, str) and len(month) == 7 and month != cause.month)


def _kinds(event: Event, appended: datetime, a_day: date) -> tuple[str, ...]:
    kinds: list[str] = []
    recorded = event.recorded_date or event.business_date
    if event.business_date <= a_day or (recorded - event.business_date).days > LATE_DAYS:
        kinds.append("efterregistrering")
    if event.type == "placement.corrected":
        kinds.append("rättelse")
    if event.type == "event.retracted":
        kinds.append("återkallelse")
    if back_registered(event, appended):
        kinds.append("bakåtregistrerad")
    return tuple(kinds) or ("ny registrering",)


def _cause(event: Event, position: int, appended: datetime, a_day: date, attrs: dict[str, str]) -> Cause:
    return Cause(_kinds(event, appended, a_day), event.type, position, str(event.event_id),
                 event.business_date, event.recorded_date, local_date(appended), attrs,
                 f"{event.business_date:%Y-%m}")


def _relevant(event: Event, name: str, period: Period, placements: dict[str, Placement]) -> bool:
    if not event.type.startswith(FAMILIES.get(name, ("",))):
        return False
    data = event.data.model_dump()
    placement = placements.get(str(data.get("placement_id")))
    if placement is not None:
        return _placement_relevant(event, placement, period)
    year = data.get("year")
    if isinstance(year, int) and event.type == "ledger.posted":
        return (period.start.year, period.start.month) <= (year, data["month"]) <= (period.end.year,
                                                                                      period.end.month)
    if isinstance(year, int) and event.type.startswith(("budget.", "forecast.")):
        return period.start.year <= year <= period.end.year
    if event.type == "unit.capacity_set":
        return event.business_date <= period.end
    return period.contains(event.business_date)


def _placement_relevant(event: Event, placement: Placement, period: Period) -> bool:
    """An end or new price after the period leaves its figures alone; other facts count when the
    placement (as known at B) starts by the period's end — an end or correction may have moved it."""
    if placement.start > period.end:
        return False
    if event.type in ("placement.ended", "placement.repriced"):
        return event.business_date <= period.end
    return placement.covers(period) or event.type == "placement.corrected"


def _explain(store: EventStore, candidates: Iterable[tuple[Event, int, datetime]], name: str, period: Period,
             placements: dict[str, Placement], a_day: date) -> list[Cause]:
    out: list[Cause] = []
    for event, position, appended in candidates:
        target = event
        if event.type == "event.retracted":
            found = store.get(event.data.model_dump()["retracted_event_id"])
            if found is None:
                continue
            target = found
        if not _relevant(target, name, period, placements):
            continue
        pid = str(target.data.model_dump().get("placement_id"))
        attrs = placements[pid].attributes if pid in placements else {
            a: str(v) for a, v in target.data.model_dump().items() if a in ATTRIBUTES and v is not None}
        out.append(_cause(event, position, appended, a_day, attrs))
    return out


def diff(store: EventStore, name: str, period: Period, known_a: datetime, known_b: datetime, *,
         municipality: str | None = None, params: Params | None = None,
         version: int | None = None, memo: Path | None = None) -> DiffResult:
    """Report `name` as known at A and at B (A < B), the changed figures and the events explaining them.

    Both states are replay's own rebuilds up to the head when the diff started (the columnar path on
    SQL stores, with the page memo in `memo` when given); the candidates are the events recorded in
    (A, B], read by record time.
    """
    if known_b < known_a:
        known_a, known_b = known_b, known_a
    version = CURRENT[name] if version is None else version
    params = params or Params()
    projections, head = needs(name, version), store.head()
    states = []
    for known in (known_a, known_b):
        snap = rebuild(store, Scope(known, municipality, upto=head), projections, EventDigest(listed=False),
                       memo=memo)
        if snap.undecodable:
            bad = snap.undecodable[0]
            raise ValueError(f"event {bad.event_id} at position {bad.position} does not decode: {bad.error}")
        states.append(snap.state)
    report_a = build(states[0], name, version, period, params)
    report_b = build(states[1], name, version, period, params)
    rows_a, rows_b = canonical_rows(report_a.rows), canonical_rows(report_b.rows)
    changes = compare.changes(report_b.columns, rows_a, rows_b)
    causes: list[Cause] = []
    if changes:
        candidates = [(item.event, item.position, item.appended_at)
                      for item in recorded_between(store, known_a, known_b, municipality, head)
                      if item.event is not None]
        placements = _placements(states[1], candidates, store)
        causes = _explain(store, candidates, name, period, placements, local_date(known_a))
    return DiffResult(name, version, list(report_b.columns), rows_a, rows_b, changes, causes)


def _placements(state: bundle.State, candidates: list[tuple[Event, int, datetime]],
                store: EventStore) -> dict[str, Placement]:
    """The placements the candidates concern, as known at B (start, departure, attributes)."""
    pids: set[str] = set()
    for event, _, _ in candidates:
        data = event.data.model_dump()
        if event.type == "event.retracted":
            found = store.get(data["retracted_event_id"])
            data = found.data.model_dump() if found is not None else {}
        if isinstance(data.get("placement_id"), str):
            pids.add(data["placement_id"])
    cc, out = state.care_costs, {}
    for pid in sorted(pids):
        p = (resolved_one(cc.compact, cc.placements, cc.retracted, pid) if cc.compact is not None
             else next((q for q in cc.resolved() if q.placement_id == pid), None))
        if p is not None:
            attrs = {a: str(getattr(p, a)) for a in ATTRIBUTES if getattr(p, a) is not None}
            out[pid] = Placement(p.start, p.stop, attrs)
    return out
