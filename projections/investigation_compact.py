"""Compact investigation facts (kompakt läge): per utredning its earliest opening and latest closing.

`projections.investigations.resolve` takes an investigation's earliest live opening and latest live
closing, ordered by (business day, event id as text). Facts are kept by event id only so that a
makulering can undo one; when the caller knows every event id any retraction targets (a replay
asks the store first), every other opening or closing is permanent, and only the minimum opening
and maximum closing can ever be read. So the compact state keeps those two per investigation, in
flat `array` columns (the event id as two 64-bit halves: their order is the order of its text), plus
the opening's person and target group. Each event is folded once (a store holds each id once).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING
from uuid import UUID

import numpy as np
import numpy.typing as npt

from events.vocabulary import TargetGroup
from projections.id_index import Ids

if TYPE_CHECKING:
    from projections.investigations import Opening

_HALF = 2**64
Days = npt.NDArray[np.int64]  # day ordinals of the rows, 0 = none
Test = Callable[[Days, Days], npt.NDArray[np.bool_]]  # (opening days, closing days) -> rows kept
_GROUPS: tuple[TargetGroup, ...] = ("children", "youth", "adults")


def _halves(eid: int) -> tuple[int, int]:
    return divmod(eid, _HALF)


@dataclass(slots=True)
class Columns:
    """Row i: opening (day ordinal, 0 = none; id halves; target group; person), closing (day; id halves)."""

    retractable: frozenset[UUID]  # every event id some retraction targets: those stay full facts
    index: Ids = field(default_factory=Ids)  # investigation_id -> row
    open_day: array[int] = field(default_factory=lambda: array("i"))
    open_id: tuple[array[int], array[int]] = field(default_factory=lambda: (array("Q"), array("Q")))
    group: array[int] = field(default_factory=lambda: array("b"))
    close_day: array[int] = field(default_factory=lambda: array("i"))
    close_id: tuple[array[int], array[int]] = field(default_factory=lambda: (array("Q"), array("Q")))
    persons: bytearray = field(default_factory=bytearray)
    person_at: array[int] = field(default_factory=lambda: array("I", [0]))
    person_of: array[int] = field(default_factory=lambda: array("i"))

    def _row(self, inv_id: str) -> int:
        row = self.index.get(inv_id)
        if row is None:
            row = self.index.add(inv_id)
            for col in (self.open_day, *self.open_id, self.group, self.close_day, *self.close_id,
                        self.person_of):
                col.append(0)
        return row

    def open(self, inv_id: str, eid: int, opening: Opening) -> None:
        """Keep the opening if it is the earliest (day, event id: its int) of its investigation."""
        row = self._row(inv_id)
        hi, lo = _halves(eid)
        key = (opening.day.toordinal(), hi, lo)
        if self.open_day[row] and (self.open_day[row], self.open_id[0][row], self.open_id[1][row]) < key:
            return
        self.open_day[row], self.open_id[0][row], self.open_id[1][row] = key
        self.group[row] = _GROUPS.index(opening.target_group)
        self.persons += opening.person.encode()
        self.person_at.append(len(self.persons))
        self.person_of[row] = len(self.person_at) - 2

    def close(self, inv_id: str, eid: int, day: date) -> None:
        """Keep the closing if it is the latest (day, event id) of its investigation."""
        row = self._row(inv_id)
        hi, lo = _halves(eid)
        key = (day.toordinal(), hi, lo)
        if self.close_day[row] and (self.close_day[row], self.close_id[0][row], self.close_id[1][row]) > key:
            return
        self.close_day[row], self.close_id[0][row], self.close_id[1][row] = key

    def ids_where(self, test: Test) -> list[str]:
        """The investigations whose kept opening and closing days pass `test`, on whole columns (the
        batch path of the reports' searches over every investigation: numpy, STYLE)."""
        opened = np.frombuffer(self.open_day, dtype=np.int32).astype(np.int64)
        closed = np.frombuffer(self.close_day, dtype=np.int32).astype(np.int64)
        return self.index.ids_of(np.flatnonzero(test(opened, closed)).astype(np.int64))

    def openings(self, inv_id: str, make: type[Opening]) -> list[tuple[date, str, Opening]]:
        """The kept opening as `resolve` sorts openings: (day, event id text, opening)."""
        row = self.index.get(inv_id)
        if row is None or not self.open_day[row]:
            return []
        day = date.fromordinal(self.open_day[row])
        k = self.person_of[row]
        person = self.persons[self.person_at[k]:self.person_at[k + 1]].decode()
        eid = str(UUID(int=self.open_id[0][row] * _HALF + self.open_id[1][row]))
        return [(day, eid, make(day, _GROUPS[self.group[row]], person))]

    def only(self, inv_id: str, make: type[Opening]) -> tuple[Opening | None, date | None]:
        """The kept opening and closing day (what `resolve` returns when these are the only facts)."""
        row = self.index[inv_id]
        opening = None
        if self.open_day[row]:
            k = self.person_of[row]
            person = self.persons[self.person_at[k]:self.person_at[k + 1]].decode()
            opening = make(date.fromordinal(self.open_day[row]), _GROUPS[self.group[row]], person)
        return opening, date.fromordinal(self.close_day[row]) if self.close_day[row] else None

    def closings(self, inv_id: str) -> list[tuple[date, str]]:
        row = self.index.get(inv_id)
        if row is None or not self.close_day[row]:
            return []
        eid = str(UUID(int=self.close_id[0][row] * _HALF + self.close_id[1][row]))
        return [(date.fromordinal(self.close_day[row]), eid)]
