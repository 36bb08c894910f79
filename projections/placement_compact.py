"""Compact placement facts (kompakt läge): one row of columns per placement instead of facts by event id.

A full rebuild from the store folds millions of placement events; keeping each as a `Fact` keyed by
event id makes the state grow with the events. The fold keeps facts by event id only so that a
later makulering (`event.retracted`) can undo one. When the caller knows every event id that any
retraction targets (a replay asks the store first, see `services.audit.source.retraction_targets`),
the facts of all other events can never be undone, and `resolve` (`projections.placement_facts`)
only ever reads, per placement, the latest registered fact of each slot: the start, the end
(`placement.ended`) and the repricing of each day. So the compact state keeps just those maxima
(in order `Fact.order()`), in flat `array` columns, plus the placement's person and attributes.

Rättelser (`placement.corrected`) and the facts a retraction targets stay full `Fact`s in the
ordinary state (they are few); `resolution` combines both exactly. The compact state promises that
each event is folded once (a store holds each event id once), so it does not deduplicate.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from uuid import UUID

from events.placement import PlacementStarted
from events.timeutil import Period
from events.vocabulary import Category, LegalBasis, PriceUnit, Regime, Sex, TargetGroup
from projections.id_index import Ids
from projections.placement_facts import Fact, Placement, PriceSegment, resolve_live

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NONE = -(2**63)  # recorded_at None
_UNITS: tuple[PriceUnit, PriceUnit] = ("day", "month")
Order = tuple[int, int, int]
Attrs = tuple[Category, TargetGroup, Regime, str | None, LegalBasis, Sex]


def micros(value: datetime | None) -> int:
    """An aware datetime as whole µs since 1970 UTC (NONE for None)."""
    if value is None:
        return NONE
    return math.floor(value.timestamp()) * 1_000_000 + value.microsecond


def _dt(us: int) -> datetime | None:
    return None if us == NONE else _EPOCH + timedelta(microseconds=us)


def order_of(fact: Fact) -> Order:
    """`Fact.order()` as integers (µs since 1970, position or 0, arrival): the same comparisons."""
    return (micros(fact.recorded_at), fact.position or 0, fact.arrival)


def _cols(n: int) -> list[array[int]]:
    """The order (µs, position: 64 bits) then `n - 2` 32-bit columns (arrival, day ordinal, codes)."""
    return [array("q"), array("q"), *(array("i") for _ in range(n - 2))]


@dataclass(slots=True)
class Columns:
    """Per placement (row i): start slot, end slot, first repricing slot; more repricings aside."""

    retractable: frozenset[UUID]  # every event id some retraction targets: those stay full facts
    index: Ids = field(default_factory=Ids)  # placement_id -> row
    start: list[array[int]] = field(default_factory=lambda: _cols(7))  # rec pos arr day attrs person price
    end: list[array[int]] = field(default_factory=lambda: _cols(4))  # rec, pos, arr, day (0 = none)
    reprice: list[array[int]] = field(default_factory=lambda: _cols(5))  # rec, pos, arr, day, price
    more: dict[int, dict[int, tuple[Order, int]]] = field(default_factory=dict)  # row: day: order, price
    attrs: list[Attrs] = field(default_factory=list)
    attr_codes: dict[Attrs, int] = field(default_factory=dict)
    prices: list[tuple[Decimal, PriceUnit]] = field(default_factory=list)
    price_codes: dict[tuple[Decimal, PriceUnit], int] = field(default_factory=dict)
    persons: bytearray = field(default_factory=bytearray)
    person_at: array[int] = field(default_factory=lambda: array("I", [0]))  # offsets into persons

    def _row(self, pid: str) -> int:
        row = self.index.get(pid)
        if row is None:
            row = self.index.add(pid)
            for cols in (self.start, self.end, self.reprice):
                cols[0].append(NONE)
                for col in cols[1:]:
                    col.append(0)
        return row

    def _price(self, price: Decimal, unit: PriceUnit) -> int:
        key = (price, unit)
        code = self.price_codes.get(key)
        if code is None:
            code = self.price_codes[key] = len(self.prices)
            self.prices.append(key)
        return code

    def _person(self, person: str) -> int:
        self.persons += person.encode()
        self.person_at.append(len(self.persons))
        return len(self.person_at) - 2

    def add(self, pid: str, fact: Fact) -> None:
        """Keep `fact` if it is the latest registered of its slot (started, repriced of its day, ended)."""
        order = order_of(fact)
        if fact.kind == "started" and fact.started is not None:
            s = fact.started
            attrs: Attrs = (s.category, s.target_group, s.regime, s.unit_id, s.legal_basis, s.sex)
            self.started(pid, order, fact.day.toordinal(), attrs, s.person, s.price_sek, s.price_unit)
        elif fact.kind == "ended":
            self.ended(pid, order, fact.day.toordinal())
        elif fact.kind == "repriced" and fact.price is not None and fact.price_unit is not None:
            self.repriced(pid, order, fact.day.toordinal(), fact.price, fact.price_unit)

    def started(self, pid: str, order: Order, day: int, attrs: Attrs, person: str, price: Decimal,
                unit: PriceUnit) -> None:
        """A `placement.started` (business day as an ordinal): kept if the latest registered start."""
        row = self._row(pid)
        if _newer(self.start, row, order):
            code = self.attr_codes.get(attrs)
            if code is None:
                code = self.attr_codes[attrs] = len(self.attrs)
                self.attrs.append(attrs)
            _put(self.start, row, order, day, code, self._person(person), self._price(price, unit))

    def ended(self, pid: str, order: Order, day: int) -> None:
        row = self._row(pid)
        if _newer(self.end, row, order):
            _put(self.end, row, order, day)

    def repriced(self, pid: str, order: Order, day: int, price: Decimal, unit: PriceUnit) -> None:
        self._repriced(self._row(pid), order, day, self._price(price, unit))

    def _repriced(self, row: int, order: Order, day: int, price: int) -> None:
        first = self.reprice[3][row]
        if first in (0, day):
            if first == 0 or _newer(self.reprice, row, order):
                _put(self.reprice, row, order, day, price)
            return
        days = self.more.setdefault(row, {})
        if day not in days or days[day][0] < order:
            days[day] = (order, price)

    def person(self, row: int) -> str:
        start = self.start[5][row]
        return self.persons[self.person_at[start]:self.person_at[start + 1]].decode()

    def facts(self, pid: str, row: int) -> list[Fact]:
        """The kept maxima as `Fact`s (for resolving together with full facts of the same placement)."""
        out: list[Fact] = []
        if self.start[3][row]:
            a, (price, unit) = self.attrs[self.start[4][row]], self.prices[self.start[6][row]]
            started = PlacementStarted.model_construct(
                placement_id=pid, person=self.person(row), category=a[0], target_group=a[1], regime=a[2],
                unit_id=a[3], legal_basis=a[4], sex=a[5], price_sek=price, price_unit=unit)
            out.append(_fact(self.start, row, "started", price=price, unit=unit, started=started))
        if self.end[3][row]:
            out.append(_fact(self.end, row, "ended"))
        for day, (order, code) in self._reprices(row):
            price, unit = self.prices[code]
            out.append(Fact(_ZERO, "repriced", date.fromordinal(day), _dt(order[0]), order[1] or None,
                            order[2], price, unit))
        return out

    def _reprices(self, row: int) -> list[tuple[int, tuple[Order, int]]]:
        r = self.reprice
        first = [] if r[3][row] == 0 else [(r[3][row], ((r[0][row], r[1][row], r[2][row]), r[4][row]))]
        return first + sorted(self.more.get(row, {}).items())

    def placement(self, pid: str, row: int, extra: list[Fact]) -> Placement | None:
        """The placement as its kept maxima plus `extra` (its live full facts) describe it."""
        if extra:
            return resolve_live(self.facts(pid, row) + extra, pid)
        if not self.start[3][row]:
            return None
        a, (price, unit) = self.attrs[self.start[4][row]], self.prices[self.start[6][row]]
        segments = [PriceSegment(date.min, price, unit)]
        for day, (_, code) in sorted(self._reprices(row)):
            segments.append(PriceSegment(date.fromordinal(day), *self.prices[code]))
        stop = date.fromordinal(self.end[3][row]) if self.end[3][row] else None
        return Placement(pid, self.person(row), *a,
                         date.fromordinal(self.start[3][row]), stop, tuple(segments))


_ZERO = UUID(int=0)  # the kept maxima are never retracted (their ids are not among the retractable)


def _newer(cols: list[array[int]], row: int, order: Order) -> bool:
    return (cols[0][row], cols[1][row], cols[2][row]) < order or cols[3][row] == 0


def _put(cols: list[array[int]], row: int, order: Order, *values: int) -> None:
    cols[0][row], cols[1][row], cols[2][row] = order
    for i, value in enumerate(values, start=3):
        cols[i][row] = value


def _fact(cols: list[array[int]], row: int, kind: str, price: Decimal | None = None,
          unit: PriceUnit | None = None, started: PlacementStarted | None = None) -> Fact:
    return Fact(_ZERO, kind, date.fromordinal(cols[3][row]), _dt(cols[0][row]),  # type: ignore[arg-type]
                cols[1][row] or None, cols[2][row], price, unit, started=started)


def resolved(cols: Columns, full: dict[str, dict[UUID, Fact]], retracted: set[UUID],
             near: Period | None = None) -> Iterator[Placement]:
    """Every placement of a compact state in placement_id order: kept maxima plus live full facts.

    With `near`, a placement without full facts whose kept start is after the period's end, or whose
    kept end (departure) is before its start, is skipped: only full facts (corrections) move those
    days, so it has no covered day in the period.
    """
    # (id, row) pairs as the index holds them: no lookup an id (a bisection each in a packed index)
    kept = cols.index.numbered() if near is None else _near(cols, full, near)
    pairs: list[tuple[str, int | None]] = [*kept, *((pid, None) for pid in full if pid not in cols.index)]
    pairs.sort(key=itemgetter(0))
    for pid, row in pairs:
        live = [f for f in full.get(pid, {}).values() if f.event_id not in retracted]
        placement = resolve_live(live, pid) if row is None else cols.placement(pid, row, live)
        if placement is not None:
            yield placement


def _near(cols: Columns, full: dict[str, dict[UUID, Fact]], period: Period) -> Iterator[tuple[str, int]]:
    first, last = period.start.toordinal(), period.end.toordinal()
    start, end = cols.start[3], cols.end[3]
    for pid, row in cols.index.numbered():
        if pid in full or (start[row] and start[row] <= last and (not end[row] or end[row] >= first)):
            yield pid, row


def resolved_one(cols: Columns, full: dict[str, dict[UUID, Fact]], retracted: set[UUID],
                 pid: str) -> Placement | None:
    """One placement of a compact state as `resolved` gives it (None: unknown or fully retracted)."""
    live = [f for f in full.get(pid, {}).values() if f.event_id not in retracted]
    row = cols.index.get(pid)
    if row is None:
        return resolve_live(live, pid) if live else None
    return cols.placement(pid, row, live)
