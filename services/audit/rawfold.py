"""The raw fold of replay: the commonest event types folded straight from their parsed stored JSON.

A full rebuild spends most of its time building `Event` objects only to read a few fields off them.
For the types that dominate a history — placering påbörjad / omprissatt / avslutad, aktualisering,
utredning inledd / avslutad — and that no retraction targets, replay reads those fields from the
parsed JSON and feeds the compact states directly (`placement_compact.Columns.started/ended/
repriced`, `intake.permanent`, `investigations.permanent`), with the same conversions as the trusted
decode (`services.audit.trusted`: Decimal, dates, the Stockholm business day, aware record times)
and the same order keys and arrival counter as `care_costs.apply`. Everything else (other types,
old versions, sealed parts, retraction targets, a value that does not convert) returns None and is
decoded and applied as before. All values are converted before any state changes, so a refusal
leaves the state as it was. A unit test folds simulated and random histories both ways and compares
every report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, Final
from uuid import UUID

from events.registry import LATEST
from events.timeutil import local_date
from projections import bundle, intake, investigations
from projections.investigations import Opening
from projections.placement_compact import NONE, Attrs, micros
from services.audit.columns_inv import GROUPS
from services.audit.trusted import business_time, decimal, recorded_time

_ENVELOPE: Final = frozenset({"event_id", "type", "version", "stream_id", "municipality", "occurred_at",
                              "recorded_at", "data"})
_KEYS: Final[dict[str, frozenset[str]]] = {
    etype: frozenset(LATEST[etype].model_fields) for etype in (
        "placement.started", "placement.repriced", "placement.ended", "case.actualised",
        "investigation.opened", "investigation.closed")
}
_PROJECTION: Final = {"placement.started": "care_costs", "placement.repriced": "care_costs",
                      "placement.ended": "care_costs", "case.actualised": "intake",
                      "investigation.opened": "investigations", "investigation.closed": "investigations"}
Handler = Callable[[dict[str, Any], dict[str, Any], int, str, date, int], None]


_DAYS: dict[str, date] = {}  # occurred_at text -> business day (histories repeat their days)


def business_day(value: Any) -> date:
    """`Event.business_date` of an occurred_at JSON value."""
    day = _DAYS.get(value) if isinstance(value, str) else None
    if day is None:
        day = local_date(business_time(value))
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        _DAYS[value] = day
    return day


class RawFold:
    """Folds the raw-path types of the chosen projections into a compact `bundle.State`."""

    def __init__(self, state: bundle.State, projections: Iterable[str], targets: frozenset[UUID]) -> None:
        chosen = set(projections)
        self.projections = frozenset(chosen)
        self.state = state
        self.targets = frozenset(str(t) for t in targets)
        # every raw type has a handler: one whose projection is not chosen reads and converts the same
        # fields (so it accepts exactly what it would fold) and changes nothing; the event is counted.
        # Decoding such events one by one only to count them made a one-report rebuild 3.5-4.4 times
        # as slow as one of every report (1 M store: 23-30 s against 6.7 s)
        self.handlers: dict[str, Handler] = {
            "placement.started": self._started, "placement.repriced": self._repriced,
            "placement.ended": self._ended, "case.actualised": self._actualised,
            "investigation.opened": self._opened, "investigation.closed": self._closed,
        }
        self.chosen = {t: _PROJECTION[t] in chosen for t in self.handlers}
        self.versions = {t: LATEST[t].VERSION for t in self.handlers}

    def accepts(self, value: Any) -> bool:
        """Whether `value` (parsed JSON) is of a type, version and shape this path folds."""
        if not isinstance(value, dict):
            return False
        etype = value.get("type")
        if etype not in self.handlers or value.get("version") != self.versions[etype]:
            return False
        eid = value.get("event_id")
        data = value.get("data")
        return (isinstance(eid, str) and len(eid) == 36 and eid == eid.lower() and eid not in self.targets
                and isinstance(data, dict) and _ENVELOPE.issuperset(value) and _KEYS[etype].issuperset(data))

    def fold(self, value: dict[str, Any], position: int) -> int | None:
        """Fold an accepted event; its record time in µs (or None when a value does not convert)."""
        try:
            rec = micros(recorded_time(value.get("recorded_at")))
            day = business_day(value["occurred_at"])
            self.handlers[value["type"]](value, value["data"], position, value["event_id"], day, rec)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            return None
        return rec

    def _order(self, rec: int, position: int) -> tuple[int, int, int]:
        cc = self.state.care_costs
        cc.arrivals += 1
        return (rec, position, cc.arrivals - 1)

    def _started(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
                 rec: int) -> None:
        attrs: Attrs = (d["category"], d["target_group"], d["regime"], d.get("unit_id"), d["legal_basis"],
                        d.get("sex", "unknown"))
        person, price, unit, pid = d["person"], decimal(d["price_sek"]), d["price_unit"], d["placement_id"]
        if type(pid) is not str or type(person) is not str:
            raise TypeError("placement_id or person")  # as the columnar gathers refuse them
        if not self.chosen["placement.started"]:
            return
        cols = self.state.care_costs.compact
        assert cols is not None
        cols.started(pid, self._order(rec, position), day.toordinal(), attrs, person, price, unit)

    def _repriced(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
                  rec: int) -> None:
        price, unit, pid = decimal(d["price_sek"]), d["price_unit"], d["placement_id"]
        if type(pid) is not str:
            raise TypeError("placement_id")
        if not self.chosen["placement.repriced"]:
            return
        cols = self.state.care_costs.compact
        assert cols is not None
        cols.repriced(pid, self._order(rec, position), day.toordinal(), price, unit)

    def _ended(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
               rec: int) -> None:
        pid = d["placement_id"]
        if type(pid) is not str:
            raise TypeError("placement_id")
        if not self.chosen["placement.ended"]:
            return
        cols = self.state.care_costs.compact
        assert cols is not None
        cols.ended(pid, self._order(rec, position), day.toordinal())

    def _actualised(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
                    rec: int) -> None:
        cell = (d["channel"], d["target_group"], d.get("sex", "unknown"))
        hash(cell)  # as intake.permanent would (a list in a field is refused)
        if self.chosen["case.actualised"]:
            intake.permanent(self.state.intake, day, cell)

    def _opened(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
                rec: int) -> None:
        opening = Opening(day, d["target_group"], d["person"])
        inv, key = d["investigation_id"], int(eid.replace("-", ""), 16)
        if opening.target_group not in GROUPS or type(opening.person) is not str or type(inv) is not str:
            raise TypeError("target_group, person or investigation_id")  # as the columnar gathers
        if self.chosen["investigation.opened"]:
            investigations.permanent(self.state.investigations, inv, key, opening, day)

    def _closed(self, v: dict[str, Any], d: dict[str, Any], position: int, eid: str, day: date,
                rec: int) -> None:
        inv, key = d["investigation_id"], int(eid.replace("-", ""), 16)
        if type(inv) is not str:
            raise TypeError("investigation_id")
        if self.chosen["investigation.closed"]:
            investigations.permanent(self.state.investigations, inv, key, None, day)


def back_registered_us(appended_us: int, recorded_us: int) -> bool:
    """`source.back_registered` on µs: appended more than a day after recorded_at (§1)."""
    return recorded_us != NONE and appended_us - recorded_us > 86_400_000_000
