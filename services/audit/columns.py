"""Column accumulators of the columnar replay: per placement and per utredning, the kept maxima in numpy.

The compact states (`projections.placement_compact.Columns`, `projections.investigation_compact.Columns`)
keep, per placement, the latest registered start, end and repricing of each day, and per
investigation the earliest opening and latest closing. Those are maxima (minima) over the events, so
they do not depend on the order the events are folded in. The columnar replay
(`services.audit.columnar`) gathers a page of events into plain lists, and these accumulators reduce
each page with numpy (sort by key and order, keep the last of each key, compare with what is kept)
instead of one Python call per event. At the end `into` writes the kept rows into the compact state:
in bulk when that state is still empty, else through its own methods (exactly what folding those
kept facts as events would do), so events folded the ordinary way in between combine exactly.
"""

from __future__ import annotations

from array import array
from decimal import Decimal
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from events.vocabulary import PriceUnit
from projections.id_index import Ids
from projections.placement_compact import NONE, Attrs
from projections.placement_compact import Columns as PlacementColumns

I64 = npt.NDArray[np.int64]


def _grow(arrays: dict[str, Any], size: int, fill: dict[str, int]) -> None:
    """Make every array at least `size` long (by half again), new cells set to their fill value.

    The zero-filled arrays are made by `np.zeros` (calloc: where the allocation is fresh memory, pages
    no row has reached stay untouched, not resident), not `np.full`, which wrote every cell. On the
    10 M store the last growth (1.55 M to 2.32 M placement rows, 1.75 M used) raised the rebuild's RSS
    by 110 MB with `np.full` and 95 MB so; peaks in alternate runs 987-996 MB against 1 001-1 025 MB."""
    current = len(next(iter(arrays.values())))
    if size <= current:
        return
    new = max(size, current + current // 2, 1024)
    for name, old in arrays.items():
        grown = np.zeros(new, dtype=old.dtype)
        grown[:current] = old
        if fill.get(name, 0):
            grown[current:] = fill[name]
        arrays[name] = grown


WIDE: Final = frozenset({"rec", "pos"})  # µs and positions need 64 bits; arrivals, days and codes fit 32


def last_per_group(groups: list[I64], orders: list[I64]) -> npt.NDArray[np.intp]:
    """Indices of the last row of each group after sorting by `groups` then `orders` (both major first)."""
    order = np.lexsort(tuple(reversed(groups + orders)))  # lexsort's last key is the primary one
    last = np.ones(len(order), dtype=bool)
    if len(order) > 1:
        differs = np.zeros(len(order) - 1, dtype=bool)
        for key in groups:
            sorted_key = key[order]
            differs |= sorted_key[1:] != sorted_key[:-1]
        last[:-1] = differs
    return order[last]


def _newer(rec: I64, pos: I64, arr: I64, g_rec: I64, g_pos: I64, g_arr: I64, g_day: I64) -> Any:
    """`placement_compact._newer`: nothing kept yet, or the kept order (µs, position, arrival) is lower."""
    same_rec = g_rec == rec
    return (g_day == 0) | (g_rec < rec) | (same_rec & ((g_pos < pos) | ((g_pos == pos) & (g_arr < arr))))


class Texts:
    """Strings by index in one byte buffer with end offsets (the compact states' own layout for persons).

    About 20 bytes a person instead of a Python string's 60 and a list slot: the persons of every
    placement and utredning of a history are kept until the end.
    """

    def __init__(self) -> None:
        self.data = bytearray()
        self.ends = array("I", [0])

    def __len__(self) -> int:
        return len(self.ends) - 1

    def __getitem__(self, i: int) -> str:
        return self.data[self.ends[i]:self.ends[i + 1]].decode()

    def add(self, text: str) -> int:
        self.data += text.encode()
        self._check()
        self.ends.append(len(self.data))
        return len(self.ends) - 2

    def extend_raw(self, data: bytes, lengths: Any) -> int:
        """Append strings given as their concatenated UTF-8 bytes and byte lengths; the first's index."""
        first, base = len(self), len(self.data)
        self.data += data
        self._check()
        self.ends.frombytes((np.cumsum(lengths, dtype=np.uint64) + base).astype(np.uint32).tobytes())
        return first

    def extend_arrow(self, strings: Any) -> int:
        """Append an Arrow string array's values (no nulls); the first's index."""
        if not len(strings):
            return len(self)
        offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32, count=len(strings) + 1,
                                offset=4 * strings.offset)
        data = strings.buffers()[2].to_pybytes()[offsets[0]:offsets[-1]]
        return self.extend_raw(data, np.diff(offsets))

    def raw(self, first: int) -> tuple[bytes, Any]:
        """The strings from index `first` on as (bytes, lengths), for `extend_raw` elsewhere."""
        ends = np.frombuffer(self.ends, dtype=np.uint32)[first:]
        return bytes(self.data[ends[0]:]), np.diff(ends)

    def clear(self) -> None:
        self.data = bytearray()
        self.ends = array("I", [0])

    def _check(self) -> None:
        if len(self.data) >= 2**32:
            raise OverflowError("over 4 GiB of person ids in one replay state")


class Slot:
    """One kept fact per code (placement row): order (µs, position, arrival), business day, values."""

    def __init__(self, values: tuple[str, ...]) -> None:
        self.names = ("rec", "pos", "arr", "day", *values)
        self.cols: dict[str, Any] = {name: np.zeros(0, dtype=np.int64 if name in WIDE else np.int32)
                                     for name in self.names}

    def reduce(self, code: I64, page: dict[str, I64], size: int) -> None:
        """Keep, per code, the page's latest fact where it is newer than the kept one."""
        if not len(code):
            return
        _grow(self.cols, size, {"rec": NONE})
        pick = last_per_group([code], [page["rec"], page["pos"], page["arr"]])
        c = code[pick]
        g = self.cols
        newer = _newer(page["rec"][pick], page["pos"][pick], page["arr"][pick],
                       g["rec"][c], g["pos"][c], g["arr"][c], g["day"][c])
        for name in self.names:
            g[name][c[newer]] = page[name][pick][newer]


class Placements:
    """The placement slots of the columnar replay, by code (a placement's row in first-seen order)."""

    def __init__(self) -> None:
        self.start = Slot(("attr", "person", "price"))
        self.end = Slot(())
        self.reprice = Slot(("price",))
        self.more: dict[int, dict[int, tuple[tuple[int, int, int], int]]] = {}  # code: day: order, price

    def repriced(self, code: I64, page: dict[str, I64], size: int) -> None:
        """Per code and day the latest repricing: the first day seen holds the slot, others go to `more`."""
        if not len(code):
            return
        _grow(self.reprice.cols, size, {"rec": NONE})
        pick = last_per_group([code, page["day"]], [page["rec"], page["pos"], page["arr"]])
        c, day = code[pick], page["day"][pick]
        g = self.reprice.cols
        first_of_code = np.ones(len(c), dtype=bool)
        first_of_code[1:] = c[1:] != c[:-1]
        slot = (g["day"][c] == day) | ((g["day"][c] == 0) & first_of_code)
        rows = {name: page[name][pick] for name in self.reprice.names}
        s = np.flatnonzero(slot)
        newer = _newer(rows["rec"][s], rows["pos"][s], rows["arr"][s], g["rec"][c[s]], g["pos"][c[s]],
                       g["arr"][c[s]], g["day"][c[s]])  # an empty slot (day 0) is claimed
        for name in self.reprice.names:
            g[name][c[s[newer]]] = rows[name][s[newer]]
        for i in np.flatnonzero(~slot).tolist():
            days = self.more.setdefault(int(c[i]), {})
            order = (int(rows["rec"][i]), int(rows["pos"][i]), int(rows["arr"][i]))
            d = int(day[i])
            if d not in days or days[d][0] < order:
                days[d] = (order, int(rows["price"][i]))

    def into(self, cols: PlacementColumns, pids: dict[str, int], attrs: list[Attrs],
             prices: list[tuple[Decimal, PriceUnit]], persons: Texts) -> None:
        """Write the kept rows into the compact state (bulk when it is empty, else through its methods)."""
        n = len(pids)
        for slot in (self.start, self.end, self.reprice):
            _grow(slot.cols, n, {"rec": NONE})
        if cols.index:
            from services.audit.columns_merge import merge  # which imports this module

            merge(self, cols, pids, attrs, prices, persons)
            return
        s, e, r = self.start.cols, self.end.cols, self.reprice.cols
        cols.index = Ids.taking(pids)  # taken over, not copied: the caller lets go of it
        cols.persons, cols.person_at = persons.data, persons.ends  # taken over: the same layout
        cols.attrs, cols.attr_codes = list(attrs), {a: i for i, a in enumerate(attrs)}
        cols.prices, cols.price_codes = list(prices), {p: i for i, p in enumerate(prices)}
        cols.start = _arrays(s, ("rec", "pos", "arr", "day", "attr", "person", "price"), n)
        cols.end = _arrays(e, ("rec", "pos", "arr", "day"), n)
        cols.reprice = _arrays(r, ("rec", "pos", "arr", "day", "price"), n)
        cols.more = {row: dict(days) for row, days in self.more.items()}


def _array(kind: str, values: Any) -> array[int]:
    out = array(kind)
    out.frombytes(values.astype(np.int64 if kind == "q" else np.int32).tobytes())
    return out


def _arrays(cols: dict[str, Any], names: tuple[str, ...], n: int) -> list[array[int]]:
    """The compact state's column layout: order µs and position 64-bit, the rest 32-bit (each column is
    released as it is converted, so the two copies never coexist whole)."""
    return [_array("q" if name in WIDE else "i", cols.pop(name)[:n]) for name in names]
