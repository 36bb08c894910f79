"""Utredningar in the columnar replay: earliest opening and latest closing per investigation, in numpy.

`projections.investigation_compact.Columns` keeps, per investigation, its earliest opening and latest
closing by (business day, event id); `projections.investigations.resolve` reads only those. Both are
extremes over the events, so a page is reduced with a sort (`columns.last_per_group`) and compared
with what is kept. The counts (inledda, avslutade, utredningstid) are then recounted once at the
end (`recount`): the ordinary fold keeps them equal to the sum of every resolved investigation's
contribution, so counting that sum directly gives the same counts, whatever order the events came in.
"""

from __future__ import annotations

from array import array
from collections import Counter
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from projections import investigations
from projections.id_index import Ids
from projections.investigation_compact import Columns
from projections.investigations import Key
from services.audit.columns import Texts, last_per_group

GROUPS: tuple[Any, ...] = ("children", "youth", "adults")  # investigation_compact's target group codes
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
_NAMES = ("open_day", "open_hi", "open_lo", "group", "person", "close_day", "close_hi", "close_lo")


class Investigations:
    """Kept opening (day, id halves, group, person) and closing (day, id halves) per code (row)."""

    def __init__(self) -> None:
        self.cols: dict[str, Any] = {n: np.zeros(0, dtype=np.uint64 if n.endswith(("hi", "lo")) else
                                                 np.int8 if n == "group" else np.int32) for n in _NAMES}

    def _grow(self, size: int) -> None:
        current = len(self.cols["open_day"])
        if size > current:
            new = max(size, current + current // 2, 1024)
            for name, old in self.cols.items():
                grown = np.zeros(new, dtype=old.dtype)
                grown[:current] = old
                self.cols[name] = grown

    def opened(self, code: I64, day: I64, hi: U64, lo: U64, group: I64, person: I64, size: int) -> None:
        """Keep the earliest (day, event id) opening of each code where it is earlier than the kept one."""
        if not len(code):
            return
        self._grow(size)
        # the earliest = the last after sorting by the negated key; ids as their complement keep the order
        pick = last_per_group([code], [-day, (~hi).astype(np.int64) ^ np.int64(-2**63),
                                       (~lo).astype(np.int64) ^ np.int64(-2**63)])
        c, g = code[pick], self.cols
        d, h, lo_ = day[pick], hi[pick], lo[pick]
        gd, gh, gl = g["open_day"][c], g["open_hi"][c], g["open_lo"][c]
        keep = (gd == 0) | (d < gd) | ((d == gd) & ((h < gh) | ((h == gh) & (lo_ <= gl))))
        for name, values in (("open_day", d), ("open_hi", h), ("open_lo", lo_), ("group", group[pick]),
                             ("person", person[pick])):
            g[name][c[keep]] = values[keep]

    def closed(self, code: I64, day: I64, hi: U64, lo: U64, size: int) -> None:
        """Keep the latest (day, event id) closing of each code where it is later than the kept one."""
        if not len(code):
            return
        self._grow(size)
        pick = last_per_group([code], [day, hi.astype(np.int64) ^ np.int64(-2**63),
                                       lo.astype(np.int64) ^ np.int64(-2**63)])
        c, g = code[pick], self.cols
        d, h, lo_ = day[pick], hi[pick], lo[pick]
        gd, gh, gl = g["close_day"][c], g["close_hi"][c], g["close_lo"][c]
        keep = (gd == 0) | (d > gd) | ((d == gd) & ((h > gh) | ((h == gh) & (lo_ >= gl))))
        for name, values in (("close_day", d), ("close_hi", h), ("close_lo", lo_)):
            g[name][c[keep]] = values[keep]

    def into(self, cols: Columns, ids: dict[str, int], persons: Texts) -> None:
        """Write the kept rows into the compact state (bulk when it is empty, else through its methods)."""
        n = len(ids)
        self._grow(n)
        g = {name: values[:n] for name, values in self.cols.items()}
        if cols.index:
            from services.audit.columns_merge import merge_investigations  # which imports columns

            merge_investigations(cols, ids, persons, g)
            return
        cols.index = Ids.taking(ids)  # taken over, not copied: the caller lets go of it
        del g
        take = self.cols.pop  # each column released as it is converted
        cols.open_day, cols.close_day = _array("i", take("open_day")[:n]), _array("i", take("close_day")[:n])
        cols.open_id = (_array("Q", take("open_hi")[:n]), _array("Q", take("open_lo")[:n]))
        cols.close_id = (_array("Q", take("close_hi")[:n]), _array("Q", take("close_lo")[:n]))
        cols.group = _array("b", take("group")[:n])
        cols.persons, cols.person_at = persons.data, persons.ends  # taken over: the same layout
        cols.person_of = _array("i", take("person")[:n])


def _array(kind: str, values: Any) -> array[int]:
    out = array(kind)
    dtype = {"i": np.int32, "b": np.int8, "Q": np.uint64}[kind]
    out.frombytes(np.asarray(values).astype(dtype).tobytes())
    return out


def recount(state: investigations.State) -> None:
    """Replace the counts by the sum of every investigation's contribution as resolved now.

    Investigations held only in the compact columns are counted with numpy; those with full facts
    (retraction targets) through `investigations.resolve`.
    """
    cols = state.compact
    assert cols is not None
    n = len(cols.index)
    mask = np.ones(n, dtype=bool)
    for inv in state.facts:
        row = cols.index.get(inv)
        if row is not None:
            mask[row] = False
    od = np.frombuffer(cols.open_day, dtype=np.int32).astype(np.int64)[mask]
    cd = np.frombuffer(cols.close_day, dtype=np.int32).astype(np.int64)[mask]
    gr = np.frombuffer(cols.group, dtype=np.int8).astype(np.int64)[mask]
    opened = _counts(od * 4 + gr, od != 0)
    both = (od != 0) & (cd != 0)
    closed = _counts(cd * 4 + gr, both)
    durations: dict[Key, Counter[int]] = {}
    span = both & (cd >= od)
    keys, counts = np.unique(((cd * 4 + gr) * 1_000_000 + (cd - od))[span], return_counts=True)
    cells, days = np.divmod(keys, 1_000_000)  # by cell, then days, ascending
    first = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]]) if len(keys) else np.zeros(0, np.int64)
    last = np.r_[first[1:], len(keys)] if len(keys) else first
    for cell, a, b in zip(cells[first].tolist(), first.tolist(), last.tolist(), strict=True):
        # one Counter a cell, made from its arrays at once (a Counter per (cell, days) pair was 0.4 s
        # of a 10 M store's municipality replay)
        durations[(date.fromordinal(cell // 4), GROUPS[cell % 4])] = Counter(
            dict(zip(days[a:b].tolist(), counts[a:b].tolist(), strict=True)))
    investigations.recount(state, opened, closed, durations, list(state.facts))


def _counts(keys: I64, where: Any) -> Counter[Key]:
    values, counts = np.unique(keys[where], return_counts=True)
    return Counter({(date.fromordinal(k // 4), GROUPS[k % 4]): c
                    for k, c in zip(values.tolist(), counts.tolist(), strict=True)})
