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
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from projections.placement_compact import NONE
from services.audit import rawfold
from services.audit.columnar import _KINDS, Gather, Page, _code

_S: Final = pa.string()
_DATA: Final = pa.struct([(name, _S) for name in (
    "case_id", "category", "legal_basis", "person", "placement_id", "price_unit", "regime", "sex",
    "target_group", "unit_id", "reason", "channel", "reporter_category", "investigation_id", "outcome")]
    + [("birth_year", pa.int64())])
_SCHEMA: Final = pa.schema([("data", _DATA), ("event_id", _S), ("municipality", _S), ("occurred_at", _S),
                            ("recorded_at", _S), ("stream_id", _S), ("type", _S), ("version", pa.int64())])
_PARSE: Final = pj.ParseOptions(explicit_schema=_SCHEMA, unexpected_field_behavior="infer")
_READ: Final = pj.ReadOptions(block_size=1 << 20, use_threads=True)
_NEEDED: Final = (  # the keys the raw fold reads with d[key], per kind (index in _KINDS)
    ("placement_id", "category", "target_group", "regime", "legal_basis", "person", "price_sek",
     "price_unit"),
    ("placement_id", "price_sek", "price_unit"), ("placement_id",), ("channel", "target_group"),
    ("investigation_id", "target_group", "person"), ("investigation_id",))
_HEX: Final = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX_AT: Final = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def _flat(values: Any) -> Any:
    """An Arrow array from an array or a chunked array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _np(column: Any, fill: Any) -> Any:
    return column.fill_null(fill).to_numpy(zero_copy_only=False)


def _codes(column: Any, convert: Callable[[Any], Any], bad: Any) -> tuple[Any, Any]:
    """Per row: the converted value's code in a lookup table (once per distinct value), and the table."""
    encoded = _flat(pc.dictionary_encode(_flat(column)))
    table = []
    for value in encoded.dictionary.to_pylist():
        try:
            table.append(convert(value))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            table.append(bad)
    indices = _np(encoded.indices, -1)
    return indices, table


def _mapped(column: Any, convert: Callable[[Any], int], bad: int) -> Any:
    """Per row the converted value as int64 (`bad` where it does not convert; nulls convert None)."""
    indices, table = _codes(column, convert, bad)
    lut = np.array([*table, bad], dtype=np.int64)
    nulls = indices < 0
    out = lut[np.where(nulls, len(table), indices)]
    if nulls.any():
        try:
            out[nulls] = convert(None)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            out[nulls] = bad
    return out


def parse(lines: bytes, n: int) -> pa.Table | None:
    try:
        table = pj.read_json(io.BytesIO(lines), read_options=_READ, parse_options=_PARSE,
                             memory_pool=pa.system_memory_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == n else None


_BAD: Final = NONE + 1  # a record time that does not convert (NONE itself is "no record time")


def _null_or(column: Any) -> Any:
    return _np(column.is_null(), True)


def accepted(g: Gather, t: pa.Table, data: Any, n: int) -> tuple[Any, Any, Any, Any]:
    """Per row: kind (index in _KINDS), record µs, business day ordinal, and whether the raw fold takes it."""
    kind = _mapped(t.column("type"), lambda v: g.kinds.get(v, -1) if isinstance(v, str) else -1, -1)
    versions = np.array([-1 if v is None else v for v in g.versions] + [-1], dtype=np.int64)
    ok = (kind >= 0) & (_np(t.column("version"), -2) == versions[kind])
    eid = t.column("event_id").combine_chunks()
    ok &= _np(pc.equal(pc.utf8_length(eid), 36), False) & _np(pc.equal(pc.utf8_lower(eid), eid), False)
    if g.fold.targets:
        ok &= ~_np(pc.is_in(eid, value_set=pa.array(sorted(g.fold.targets), pa.string())), False)
    ok &= _np(data.is_valid(), False) & ~_null_or(t.column("municipality"))
    for name in t.column_names:
        if name not in rawfold._ENVELOPE:
            ok &= _null_or(t.column(name))
    fields = [data.type.field(i).name for i in range(data.type.num_fields)]
    present = {name: ~_null_or(data.field(name)) for name in fields}  # each field's nulls found once
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
    rec = _mapped(t.column("recorded_at"), g.rec, _BAD)
    day = _mapped(t.column("occurred_at"), g.ordinal, 0)
    ok &= (rec != _BAD) & (day != 0)
    if "target_group" in fields:
        group = _mapped(data.field("target_group"), lambda v: _GROUP[v], -1)
        ok &= ~((kind == 4) & (group < 0))
    return kind, rec, day, ok


_GROUP: Final = {"children": 0, "youth": 1, "adults": 2}


def halves(ids: Any) -> tuple[Any, Any, Any]:
    """An id column of 36-character strings as two uint64 halves of its hex digits, and which parse."""
    ids = pa.array(ids.to_pylist(), pa.string()) if ids.offset else ids  # a fresh, unsliced buffer
    start = int(np.frombuffer(ids.buffers()[1], dtype=np.int32, count=1)[0]) if len(ids) else 0
    text = np.frombuffer(ids.buffers()[2], dtype=np.uint8, count=36 * len(ids), offset=start) if len(ids) \
        else np.zeros(0, dtype=np.uint8)
    chars = text.reshape(-1, 36)
    nibbles = _HEX[chars[:, _HEX_AT]]
    good = (nibbles != 255).all(axis=1) & (chars[:, [8, 13, 18, 23]] == ord("-")).all(axis=1)
    out = []
    for part in (nibbles[:, :16], nibbles[:, 16:]):
        value = np.zeros(len(ids), dtype=np.uint64)
        for i in range(16):
            value = (value << np.uint64(4)) | part[:, i].astype(np.uint64)
        out.append(value)
    return out[0], out[1], good


def _combined(columns: list[Any], rows: Any, nulls: list[Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    """Per selected row a code of its tuple of values (nulls as given), and the distinct tuples."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64), []
    parts, tables = [], []
    for column, null in zip(columns, nulls, strict=True):
        indices, table = _codes(column.take(pa.array(rows)), lambda v: v, None)
        parts.append(np.where(indices < 0, len(table), indices))
        tables.append([*table, null])
    unique, inverse = _unique_rows(parts, [len(t) for t in tables])
    values = [tuple(tables[i][j] for i, j in enumerate(row)) for row in unique.tolist()]
    return inverse.reshape(-1), values


def _unique_rows(parts: list[Any], radices: list[int]) -> tuple[Any, Any]:
    """`np.unique(np.stack(parts, axis=1), axis=0, return_inverse=True)`, in the same (lexicographic) order.

    The digits are combined into one int64 key per row (mixed radix, the first part most significant),
    which sorts as the rows do: a 1-D unique is ~10 times as fast as one over rows. Where the key could
    overflow, the rows are compared as such.
    """
    if math.prod(radices) >= 1 << 62:
        return np.unique(np.stack(parts, axis=1), axis=0, return_inverse=True)
    key = np.zeros(len(parts[0]), dtype=np.int64)
    for part, radix in zip(parts, radices, strict=True):
        key = key * radix + part
    keys, inverse = np.unique(key, return_inverse=True)
    digits = []
    for radix in reversed(radices):
        keys, digit = np.divmod(keys, radix)
        digits.append(digit)
    return np.stack(digits[::-1], axis=1), inverse


def gather(g: Gather, rows: list[tuple[Any, ...]], lines: bytes, snap: Any, muni: str | None,
           base: int) -> tuple[Page, list[int], list[bool]] | None:
    """`columnar.gather` on whole columns (None: Arrow cannot read this page as expected)."""
    n = len(rows)
    t = parse(lines, n)
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
    hi[inv_rows], lo[inv_rows], good = halves(eid.take(pa.array(inv_rows)))
    ok[inv_rows[~good]] = False
    excluded = np.zeros(n, dtype=bool)
    if muni is not None:
        mine = _np(pc.equal(t.column("municipality"), muni), False)
        excluded = ok & ~mine
        ok &= mine
    page = Page()
    positions = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    _placements(g, page, data, kind, rec, day, ok, base, positions)
    _cases(g, page, data, kind, day, ok, hi, lo)
    _account(g, snap, t, rows, positions, rec, ok)
    return page, np.flatnonzero(~ok & ~excluded).tolist(), excluded.tolist()


def _codes_of(table: dict[str, int], column: Any, rows: Any) -> Any:
    """Global codes (first seen, first coded) of a string column's values at `rows`."""
    encoded = _flat(pc.dictionary_encode(column.take(pa.array(rows))))
    lut = np.array([_code(table, v) for v in encoded.dictionary.to_pylist()] + [0], dtype=np.int64)
    return lut[_np(encoded.indices, len(lut) - 1)]


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
            inverse, tuples = _combined([data.field(f) for f in names], rows,
                                        [None, None, None, None, None, "unknown"])
            attrs = np.array([_code_t(g.attrs, a) for a in tuples], dtype=np.int64)
            start = g.persons.extend_arrow(data.field("person").take(pa.array(rows)))
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
    inverse, pairs = _combined([data.field("price_sek"), data.field("price_unit")], rows, [None, None])
    return np.array([g.price(value, unit) for value, unit in pairs], dtype=np.int64)[inverse]


def _cases(g: Gather, page: Page, data: Any, kind: Any, day: Any, ok: Any, hi: Any, lo: Any) -> None:
    rows = np.flatnonzero(ok & (kind == 3))
    if len(rows):
        inverse, cells = _combined([data.field(f) for f in ("channel", "target_group", "sex")], rows,
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
    start = g.inv_persons.extend_arrow(data.field("person").take(pa.array(o)))
    group = _mapped(data.field("target_group").take(pa.array(o)), lambda v: _GROUP[v], -1)
    page.o[:] = [code[opened], day[o], hi[o], lo[o], group, start + np.arange(len(o), dtype=np.int64)]
    page.c[:] = [code[~opened], day[c], hi[c], lo[c]]


def _account(g: Gather, snap: Any, t: pa.Table, rows: list[tuple[Any, ...]], positions: Any, rec: Any,
             ok: Any) -> None:
    """Events, last position, municipalities and back-registrations of the rows folded in columns."""
    taken = np.flatnonzero(ok)
    if not len(taken):
        return
    state = g.fold.state
    state.events += len(taken)
    state.last_position = max(state.last_position, int(positions[taken[-1]]))
    snap.municipalities.update(pc.unique(t.column("municipality").take(pa.array(taken))).to_pylist())
    apps = g.appended
    appended = np.array([apps[a] if a in apps else g.appended_us(a) for a in (rows[i][2] for i in taken)],
                        dtype=np.int64)
    has = rec[taken] != NONE
    snap.back_registered += int(((appended - rec[taken] > 86_400_000_000) & has).sum())
