"""The columnar replay's kept rows merged into compact states that already hold placements, utredningar.

`columns.Placements.into` writes a replay's kept rows into `placement_compact.Columns` in bulk when
the state is empty; a replay resumed from a checkpoint (`services.audit.checkpoint`) finds it full.
Folding each kept row through the state's own methods (`started`, `ended`, `repriced`) took 25 µs a
placement (0.56 s of a month-later as-of replay of the 10 M store). Here the same comparisons run on
whole columns: per slot, the kept row is written where the state holds none or an older one (order:
µs, position, arrival), with the state's own codes for attributes and prices and its persons
appended in the same order. Only repricings on a day other than the state's first repricing day go
through `Columns._repriced` one by one (its further days, `more`). The state is then the one the
methods give, but for the numbering of attribute and price codes (which no figure reads);
`tests/unit/test_columns_merge.py` checks it against them. The same for utredningar
(`merge_investigations`: the earliest opening, the latest closing, by day then event id; 0.18 s there).
"""

from __future__ import annotations

from array import array
from decimal import Decimal
from typing import Any

import numpy as np

from events.vocabulary import PriceUnit
from projections.investigation_compact import Columns as InvestigationColumns
from projections.placement_compact import NONE, Attrs
from projections.placement_compact import Columns as PlacementColumns
from services.audit.columns import Placements, Texts, _newer


def merge(kept: Placements, cols: PlacementColumns, pids: dict[str, int], attrs: list[Attrs],
          prices: list[tuple[Decimal, PriceUnit]], persons: Texts) -> None:
    """Merge the rows `kept` holds for `pids` (placement id -> its code there) into `cols`."""
    s, e, r = kept.start.cols, kept.end.cols, kept.reprice.cols
    items = [(pid, c) for pid, c in pids.items()
             if s["day"][c] or e["day"][c] or r["day"][c] or c in kept.more]
    codes = np.fromiter((c for _, c in items), dtype=np.int64, count=len(items))
    rows = _rows(cols, [pid for pid, _ in items])
    price_of = _Codes(cols.price_codes, cols.prices, prices)

    def write(slot: dict[str, Any], state: list[array[int]], names: tuple[str, ...]) -> Any:
        """Where the kept row is newer, its order and day into the state; the rows written (positions in
        `items`) and their codes in `kept`."""
        at = np.flatnonzero(slot["day"][codes] != 0)
        c, row = codes[at], rows[at]
        view = [_view(col) for col in state[:4]]
        newer = _newer(slot["rec"][c], slot["pos"][c], slot["arr"][c], view[0][row], view[1][row],
                       view[2][row], view[3][row])
        for col, name in zip(view, names, strict=True):
            col[row[newer]] = slot[name][c[newer]]
        return at[newer], c[newer]

    # starts: order, day, attributes, person (appended in order), price
    at, c = write(s, cols.start, ("rec", "pos", "arr", "day"))
    if len(at):
        attr_of = _Codes(cols.attr_codes, cols.attrs, attrs)
        first = _append_persons(cols, persons, s["person"][c].astype(np.int64))
        row = rows[at]
        _view(cols.start[4])[row] = attr_of.of(s["attr"][c])
        _view(cols.start[5])[row] = np.arange(first, first + len(at), dtype=np.int32)
        _view(cols.start[6])[row] = price_of.of(s["price"][c])
    write(e, cols.end, ("rec", "pos", "arr", "day"))
    # repricings: the slot where the state's first repricing day is none or the same day, else `more`
    at = np.flatnonzero(r["day"][codes] != 0)
    c, row = codes[at], rows[at]
    state_day = _view(cols.reprice[3])[row]
    same = (state_day == 0) | (state_day == r["day"][c])
    view = [_view(col) for col in cols.reprice]
    cs, rs = c[same], row[same]
    newer = _newer(r["rec"][cs], r["pos"][cs], r["arr"][cs], view[0][rs], view[1][rs], view[2][rs],
                   view[3][rs])
    for col, name in zip(view[:4], ("rec", "pos", "arr", "day"), strict=True):
        col[rs[newer]] = r[name][cs[newer]]
    view[4][rs[newer]] = price_of.of(r["price"][cs[newer]])
    del view  # the state's arrays may grow again
    for ci, ri in zip(c[~same].tolist(), row[~same].tolist(), strict=True):
        order = (int(r["rec"][ci]), int(r["pos"][ci]), int(r["arr"][ci]))
        cols._repriced(ri, order, int(r["day"][ci]), cols._price(*prices[int(r["price"][ci])]))
    for k in np.flatnonzero(np.isin(codes, np.fromiter(kept.more, dtype=np.int64))).tolist():
        for day, (order, price) in sorted(kept.more[int(codes[k])].items()):
            cols._repriced(int(rows[k]), order, day, cols._price(*prices[price]))


def merge_investigations(cols: InvestigationColumns, ids: dict[str, int], persons: Texts,
                         g: dict[str, Any]) -> None:
    """Merge the kept rows `g` (by code; `ids`: investigation id -> code) into `cols`, as
    `Columns.open` and `Columns.close` would one by one."""
    items = [(inv, c) for inv, c in ids.items() if g["open_day"][c] or g["close_day"][c]]
    codes = np.fromiter((c for _, c in items), dtype=np.int64, count=len(items))
    rows, fresh = cols.index.rows_of([inv for inv, _ in items])
    for col in (cols.open_day, *cols.open_id, cols.group, cols.close_day, *cols.close_id, cols.person_of):
        col.frombytes(np.zeros(fresh, dtype=_DTYPES[col.typecode]).tobytes())
    # the opening where the state holds none or a later one (or the same: written again)
    at = np.flatnonzero(g["open_day"][codes] != 0)
    c, row = codes[at], rows[at]
    day, hi, lo = _view(cols.open_day), _view(cols.open_id[0]), _view(cols.open_id[1])
    kd, kh, kl = g["open_day"][c], g["open_hi"][c].astype(np.uint64), g["open_lo"][c].astype(np.uint64)
    sd, sh, sl = day[row], hi[row], lo[row]
    later = (sd < kd) | ((sd == kd) & ((sh < kh) | ((sh == kh) & (sl < kl))))
    keep = (sd == 0) | ~later
    c, row = c[keep], row[keep]
    day[row], hi[row], lo[row] = kd[keep], kh[keep], kl[keep]
    _view(cols.group)[row] = g["group"][c]
    del day, hi, lo
    first = _append_persons(cols, persons, g["person"][c].astype(np.int64))
    _view(cols.person_of)[row] = np.arange(first, first + len(c), dtype=np.int32)
    # the closing where the state holds none or an earlier one (or the same)
    at = np.flatnonzero(g["close_day"][codes] != 0)
    c, row = codes[at], rows[at]
    day, hi, lo = _view(cols.close_day), _view(cols.close_id[0]), _view(cols.close_id[1])
    kd, kh, kl = g["close_day"][c], g["close_hi"][c].astype(np.uint64), g["close_lo"][c].astype(np.uint64)
    sd, sh, sl = day[row], hi[row], lo[row]
    earlier = (sd > kd) | ((sd == kd) & ((sh > kh) | ((sh == kh) & (sl > kl))))
    keep = (sd == 0) | ~earlier
    day[row[keep]], hi[row[keep]], lo[row[keep]] = kd[keep], kh[keep], kl[keep]


def _append_persons(cols: Any, persons: Texts, taken: Any) -> int:
    """Append the kept persons `taken` (indexes into `persons`) to a compact state's persons, in order;
    the first one's index there."""
    first = len(cols.person_at) - 1
    if not len(taken):
        return first
    ends = np.frombuffer(persons.ends, dtype=np.uint32)
    data, bounds = bytes(persons.data), ends.tolist()
    cols.persons += b"".join(data[bounds[p]:bounds[p + 1]] for p in taken.tolist())
    lengths = (ends[taken + 1] - ends[taken]).astype(np.uint64)
    cols.person_at.frombytes((np.cumsum(lengths) + cols.person_at[-1]).astype(np.uint32).tobytes())
    return first


def _rows(cols: PlacementColumns, pids: list[str]) -> Any:
    """The state's row of each placement id, new ones numbered on in order (their slots empty)."""
    out, fresh = cols.index.rows_of(pids)
    if fresh:
        for slot in (cols.start, cols.end, cols.reprice):
            slot[0].frombytes(np.full(fresh, NONE, dtype=np.int64).tobytes())
            for col in slot[1:]:
                col.frombytes(np.zeros(fresh, dtype=_DTYPES[col.typecode]).tobytes())
    return out


_DTYPES: dict[str, Any] = {"q": np.int64, "i": np.int32, "b": np.int8, "Q": np.uint64}


def _view(col: array[int]) -> Any:
    """A numpy view of a state column (written through; the column cannot grow while it lives)."""
    return np.frombuffer(col, dtype=_DTYPES[col.typecode])


class _Codes:
    """The state's code of each of the kept rows' values (given by their codes in `values`), new values
    coded on in the order met."""

    def __init__(self, codes: dict[Any, int], table: list[Any], values: list[Any]) -> None:
        self.codes, self.table, self.values = codes, table, values

    def of(self, kept: Any) -> Any:
        if not len(kept):
            return np.zeros(0, dtype=np.int32)
        distinct, first, inverse = np.unique(kept, return_index=True, return_inverse=True)
        lut = np.empty(len(distinct), dtype=np.int32)
        for i in np.argsort(first, kind="stable").tolist():
            value = self.values[int(distinct[i])]
            code = self.codes.get(value)
            if code is None:
                code = self.codes[value] = len(self.table)
                self.table.append(value)
            lut[i] = code
        return lut[inverse.reshape(-1)]
