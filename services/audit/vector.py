"""The vectorised gather of the columnar replay: a page of payloads read by Arrow's JSON reader.

`columnar.gather` reads each accepted event's values with Python (about 4 µs an event on these
cores, plus the JSON parse into dicts). Here the page's stored bytes — the very newline-joined
bytes the events hash is taken over — are parsed by `pyarrow.json` into columns (C++, on every
core), and the raw fold's acceptance test and conversions run on whole columns:

* accepted = a type the raw fold takes, its latest version, an event id of 36 lower-case characters
  that no retraction targets, no key outside the envelope and the type's model, every key the raw
  fold reads present; conversions of record time, business day, money and the attribute tuples are
  made once per distinct value with the raw fold's own functions;
* everything else is left to the ordinary path by index, exactly as `columnar.gather` leaves it.

Arrow reads a JSON null and an absent key alike. The raw fold tells them apart only through
`dict.get` (where both give None) and `d[key]` (absent: decode instead). So an event whose
*required* key holds null is decoded here (and named if it does not validate), where the raw fold
would have folded a None: a payload the store's validation never accepts. Anything Arrow cannot
read as expected (a price that is not an integer, a value of another JSON type, a page whose
blocks infer different types) makes `gather` return None, and the page takes `columnar.gather`.
The parse and the helpers on whole columns are `services.audit.arrow_columns`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from projections.placement_compact import NONE
from services.audit import arrow_columns as ac
from services.audit import rawfold
from services.audit.columnar import _KINDS, Gather, Page
from services.audit.page_rows import PageRows

_NEEDED: Final = (  # the keys the raw fold reads with d[key], per kind (index in _KINDS)
    ("placement_id", "category", "target_group", "regime", "legal_basis", "person", "price_sek",
     "price_unit"),
    ("placement_id", "price_sek", "price_unit"), ("placement_id",), ("channel", "target_group"),
    ("investigation_id", "target_group", "person"), ("investigation_id",))
_BAD: Final = NONE + 1  # a record time that does not convert (NONE itself is "no record time")


def accepted(g: Gather, t: pa.Table, data: Any, n: int) -> tuple[Any, Any, Any, Any]:
    """Per row: kind (index in _KINDS), record µs, business day ordinal, and whether the raw fold takes it."""
    kind = ac.mapped(t.column("type"), lambda v: g.kinds.get(v, -1) if isinstance(v, str) else -1, -1)
    versions = np.array([-1 if v is None else v for v in g.versions] + [-1], dtype=np.int64)
    ok = (kind >= 0) & (ac.to_np(t.column("version"), -2) == versions[kind])
    eid = t.column("event_id").combine_chunks()
    ok &= ac.to_np(pc.equal(pc.utf8_length(eid), 36), False)
    ok &= ac.to_np(pc.equal(pc.utf8_lower(eid), eid), False)
    if g.fold.targets:
        ok &= ~ac.to_np(pc.is_in(eid, value_set=ac.strings(sorted(g.fold.targets))), False)
    ok &= ac.to_np(data.is_valid(), False) & ~ac.null_or(t.column("municipality"))
    for name in t.column_names:
        if name not in rawfold._ENVELOPE:
            ok &= ac.null_or(t.column(name))
    fields = [data.type.field(i).name for i in range(data.type.num_fields)]
    present = {name: ~ac.null_or(data.field(name)) for name in fields}  # each field's nulls found once
    is_kind = [kind == k for k in range(len(_KINDS))]
    for k, needed in enumerate(_NEEDED):
        allowed = g.keys[k]
        bad = np.zeros(n, dtype=bool)
        for name in fields:
            if name not in allowed:
                bad |= present[name]  # a key outside the type's model
        for name in needed:
            if name not in present:
                bad[:] = True
            else:
                bad |= ~present[name]  # a key the raw fold reads with d[key], absent or null
        ok &= ~(is_kind[k] & bad)
    rec = ac.mapped(t.column("recorded_at"), g.rec, _BAD)
    day = ac.mapped(t.column("occurred_at"), g.ordinal, 0)
    ok &= (rec != _BAD) & (day != 0)
    if "target_group" in fields:
        group = ac.mapped(data.field("target_group"), lambda v: _GROUP[v], -1)
        ok &= ~((kind == 4) & (group < 0))
    return kind, rec, day, ok


_GROUP: Final = {"children": 0, "youth": 1, "adults": 2}


def gather(g: Gather, rows: PageRows, snap: Any, muni: str | None,
           base: int) -> tuple[Page, list[int], list[bool]] | None:
    """`columnar.gather` on whole columns (None: Arrow cannot read this page as expected)."""
    n = len(rows)
    t = rows.table()
    if t is None:
        return None
    data = t.column("data").combine_chunks()
    if not pa.types.is_struct(data.type):
        return None
    names = {data.type.field(i).name for i in range(data.type.num_fields)}
    if "price_sek" in names and not pa.types.is_integer(data.field("price_sek").type) \
            and not pa.types.is_null(data.field("price_sek").type):
        return None  # a price that is not a whole number: its exact text is needed (columnar.gather)
    kind, rec, day, ok = accepted(g, t, data, n)
    eid = t.column("event_id").combine_chunks()
    inv_rows = np.flatnonzero(ok & (kind >= 4))
    hi, lo = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    hi[inv_rows], lo[inv_rows], good = ac.halves(eid.take(ac.indices(inv_rows)))
    ok[inv_rows[~good]] = False
    excluded = np.zeros(n, dtype=bool)
    if muni is not None:
        mine = ac.to_np(pc.equal(t.column("municipality"), muni), False)
        excluded = ok & ~mine
        ok &= mine
    if g.check_ids:
        g.last_ids_agree = _ids_agree(eid, rows.ids)
    page = Page()
    positions = rows.positions
    folded = ok & np.array([*g.chosen, False], dtype=bool)[kind]  # the others are counted only
    _placements(g, page, data, kind, rec, day, folded, base, positions)
    _cases(g, page, data, kind, day, folded, hi, lo)
    _account(g, snap, t, rows, positions, rec, ok)
    return page, np.flatnonzero(~ok & ~excluded).tolist(), excluded.tolist()


def _ids_agree(payload_ids: Any, stored_ids: Any) -> bool:
    """Whether every payload's event id is its row's stored id, dashes aside (32 hex digits in SQLite,
    a uuid's text in PostgreSQL); a payload without one is not a row the gather takes."""
    a = pc.replace_substring(pc.utf8_lower(payload_ids), "-", "")
    b = pc.replace_substring(pc.utf8_lower(stored_ids), "-", "")
    same = pc.fill_null(pc.equal(a, b), True)  # a payload without an id: the gather leaves it anyway
    return bool(pc.all(same).as_py()) and b.null_count == 0


def _codes_of(table: dict[str, int], column: Any, rows: Any) -> Any:
    """Global codes (first seen, first coded) of a string column's values at `rows`."""
    encoded = ac.flat(pc.dictionary_encode(column.take(ac.indices(rows))))
    # `setdefault(v, len(table))`: a new value's code is the table's size before it is added, as
    # `columnar._code` numbers it, in one C call a value instead of a Python call (no gain measurable
    # on its own in an A/B run: the profiler had inflated the calls it replaced)
    code, size = table.setdefault, table.__len__
    lut = np.array([code(v, size()) for v in encoded.dictionary.to_pylist()] + [0], dtype=np.int64)
    return lut[ac.to_np(encoded.indices, len(lut) - 1)]


def _placements(g: Gather, page: Page, data: Any, kind: Any, rec: Any, day: Any, ok: Any, base: int,
                positions: Any) -> None:
    care = np.flatnonzero(ok & (kind <= 2))
    if not len(care):
        return
    code = _codes_of(g.pids, data.field("placement_id"), care)
    arr = base + np.arange(len(care), dtype=np.int64)
    page.care = len(care)
    for k, target in ((0, page.s), (1, page.r), (2, page.e)):
        m = kind[care] == k
        rows = care[m]
        if not len(rows):
            continue
        target[:5] = [code[m], rec[rows], positions[rows], arr[m], day[rows]]
        if k == 0:
            names = ("category", "target_group", "regime", "unit_id", "legal_basis", "sex")
            inverse, tuples = ac.combined([data.field(f) for f in names], rows,
                                        [None, None, None, None, None, "unknown"])
            attrs = np.array([_code_t(g.attrs, a) for a in tuples], dtype=np.int64)
            start = g.persons.extend_arrow(data.field("person").take(ac.indices(rows)))
            persons = start + np.arange(len(rows), dtype=np.int64)
            target[5:] = [attrs[inverse], persons, _prices(g, data, rows)]
        elif k == 1:
            target[5:] = [_prices(g, data, rows)]


def _code_t(table: dict[Any, int], key: Any) -> int:
    code = table.get(key)
    if code is None:
        code = table[key] = len(table)
    return code


def _prices(g: Gather, data: Any, rows: Any) -> Any:
    inverse, pairs = ac.combined([data.field("price_sek"), data.field("price_unit")], rows, [None, None])
    return np.array([g.price(value, unit) for value, unit in pairs], dtype=np.int64)[inverse]


def _cases(g: Gather, page: Page, data: Any, kind: Any, day: Any, ok: Any, hi: Any, lo: Any) -> None:
    rows = np.flatnonzero(ok & (kind == 3))
    if len(rows):
        inverse, cells = ac.combined([data.field(f) for f in ("channel", "target_group", "sex")], rows,
                                   [None, None, "unknown"])
        keys, counts = np.unique(day[rows] * len(cells) + inverse, return_counts=True)  # (day, cell) in order
        days, which = np.divmod(keys, len(cells))
        found = zip(days.tolist(), which.tolist(), counts.tolist(), strict=True)
        page.counts.extend(((d, cells[c]), n) for d, c, n in found)
    rows = np.flatnonzero(ok & (kind >= 4))
    if not len(rows):
        return
    code = _codes_of(g.invs, data.field("investigation_id"), rows)
    opened = kind[rows] == 4
    o, c = rows[opened], rows[~opened]
    start = g.inv_persons.extend_arrow(data.field("person").take(ac.indices(o)))
    group = ac.mapped(data.field("target_group").take(ac.indices(o)), lambda v: _GROUP[v], -1)
    page.o[:] = [code[opened], day[o], hi[o], lo[o], group, start + np.arange(len(o), dtype=np.int64)]
    page.c[:] = [code[~opened], day[c], hi[c], lo[c]]


def _account(g: Gather, snap: Any, t: pa.Table, rows: PageRows, positions: Any, rec: Any,
             ok: Any) -> None:
    """Events, last position, municipalities and back-registrations of the rows folded in columns."""
    taken = np.flatnonzero(ok)
    if not len(taken):
        return
    state = g.fold.state
    state.events += len(taken)
    state.last_position = max(state.last_position, int(positions[taken[-1]]))
    snap.municipalities.update(pc.unique(t.column("municipality").take(ac.indices(taken))).to_pylist())
    appended = ac.mapped(rows.appended.take(ac.indices(taken)), g.appended_us, NONE)
    if (appended == NONE).any():
        at = int(positions[taken[int(np.argmax(appended == NONE))]])
        raise ValueError(f"stored event at position {at}: appended_at is not a time the store writes")
    has = rec[taken] != NONE
    snap.back_registered += int(((appended - rec[taken] > 86_400_000_000) & has).sum())
