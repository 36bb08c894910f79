"""A stored payload's parsed fields, kept beside it (column `events.parsed`, SQLite stores): Arrow CSV.

The columnar replay (`services.audit.vector`) reads the fields of each page's payloads that the raw
fold needs as Arrow columns: Arrow's JSON reader over the stored bytes, with `SCHEMA` (any other key
inferred, so that the acceptance test sees it). That parse was the largest cost of a store's first
rebuild (2.4-2.8 µs of CPU an event of ~350 bytes, on these cores), and reading the same columns
from an Arrow CSV line costs ~0.4 µs. So when the store appends a batch, it makes that parse of the
batch's payloads once (`encode`) and keeps each row's result as one CSV line; a replay reading a page
whose every row has one, and no row of which the edit log names, takes the lines (`decode`) instead
of parsing the JSON. `decode(encode(...))` gives the very columns of `SCHEMA` that `parse` gives for
those bytes (both are Arrow's, with the same schema); a key outside it (another type's, say: a budget
line, an insats decision) is not kept, and the row is marked by a column `OTHER` instead, which makes
the columnar gather leave it to the ordinary decode, as it leaves a row with such a key when it parses
the JSON (every key the raw fold's types have is in `SCHEMA`). So what the replay folds is the same
either way (`tests/unit/test_store_parsed.py` compares them over edited and random payloads).

A row keeps no line (NULL) where its payload does not parse to `SCHEMA`: a value of another type than
the schema's (a price that is not a whole number), not JSON, a string holding a line break. Its page
is then parsed from its payloads, as before.

Trust: the lines are written by the store with the payloads, in the same INSERT; an UPDATE of a
payload or of a line (or a DELETE) behind the store's back is logged by the store's triggers
(`services.store.sql.EDIT_TRIGGERS`), and a page with a logged row is parsed from its payloads. Someone
who can drop the triggers can make a replay fold lines other than the payloads' (as they can make a
checkpoint miss an edit); `casestream verify` never reads the lines: it re-derives every figure from
the payloads and names such a difference.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj
from sqlalchemy import Connection, func, select

from services.store.tables import EDITS_BOTH, event_edits, store_meta

VERSION: Final = 1  # of the line's layout, its first field: a line of another version is not read
_S: Final = pa.string()
_I: Final = pa.int64()
DATA_FIELDS: Final = (
    ("case_id", _S), ("category", _S), ("legal_basis", _S), ("person", _S), ("placement_id", _S),
    ("price_unit", _S), ("regime", _S), ("sex", _S), ("target_group", _S), ("unit_id", _S), ("reason", _S),
    ("channel", _S), ("reporter_category", _S), ("investigation_id", _S), ("outcome", _S), ("birth_year", _I),
    ("price_sek", _I), ("kind", _S), ("name", _S), ("places", _I))
ENVELOPE_FIELDS: Final = (("event_id", _S), ("municipality", _S), ("occurred_at", _S), ("recorded_at", _S),
                          ("stream_id", _S), ("type", _S), ("version", _I))
DATA: Final = pa.struct(list(DATA_FIELDS))
SCHEMA: Final = pa.schema([("data", DATA), *ENVELOPE_FIELDS])
OTHER: Final = "_other"  # decode's column: true where the payload has a key outside SCHEMA (else absent)
_PARSE: Final = pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="infer")
_READ: Final = pj.ReadOptions(block_size=1 << 20, use_threads=True)
# an append's batch (a few to a few thousand events) is parsed in the appending thread: no Arrow thread
# pool is started in every process that appends (the demo, ingest) for a parse of milliseconds
_READ_HERE: Final = pj.ReadOptions(block_size=1 << 20, use_threads=False)
# the line: its layout's VERSION, whether `data` is an object, its fields, the envelope's, whether there
# are other keys (true or empty); every string quoted, a null empty
_NAMES: Final = ["layout", "data", *(f"data.{n}" for n, _ in DATA_FIELDS), *(n for n, _ in ENVELOPE_FIELDS),
                 OTHER]
_TYPES: Final = dict(zip(_NAMES, [_I, pa.bool_(), *(t for _, t in DATA_FIELDS),
                                  *(t for _, t in ENVELOPE_FIELDS), pa.bool_()], strict=True))
_WRITE: Final = pcsv.WriteOptions(include_header=False, quoting_style="needed")
# in the calling thread: as fast as with Arrow's pool here (a page is one block), and Arrow's threads'
# allocations left a rebuild of the 1 M store at 398-419 MB peak RSS against 351 MB
_CSV_READ: Final = pcsv.ReadOptions(column_names=_NAMES, block_size=1 << 22, use_threads=False)
_CSV_PARSE: Final = pcsv.ParseOptions(newlines_in_values=False)
_CONVERT: Final = pcsv.ConvertOptions(column_types=_TYPES, null_values=[""], strings_can_be_null=True,
                                      quoted_strings_can_be_null=False, true_values=["true"],
                                      false_values=["false"])


def parse(lines: bytes, n: int, *, threads: bool = True) -> pa.Table | None:
    """Arrow's parse of `n` newline-joined payloads into `SCHEMA` (other keys inferred), or None where
    Arrow cannot read them so; `threads`: on Arrow's thread pool."""
    try:
        table = pj.read_json(io.BytesIO(lines), read_options=_READ if threads else _READ_HERE,
                             parse_options=_PARSE,
                             memory_pool=pa.system_memory_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return table if table.num_rows == n else None


def encode(payloads: Sequence[bytes]) -> list[bytes | None]:
    """Each payload's line (None where it keeps none: module docstring)."""
    n = len(payloads)
    if not n:
        return []
    table = parse(b"\n".join(payloads) + b"\n", n, threads=False)
    if table is None:  # a payload Arrow cannot read into SCHEMA: each alone
        return [None] if n == 1 else [encode([p])[0] for p in payloads]
    flat = _flat(table, _plain(table, n))
    whole = _lines(flat, n)
    return list(whole) if whole is not None else \
        [(_lines(flat.slice(i, 1), 1) or [None])[0] for i in range(n)]  # a line break in a value: each alone


def decode(lines: bytes, n: int) -> pa.Table | None:
    """The table `parse` gives for the payloads whose `n` lines (each followed by a newline) these are;
    None where they do not read back as such."""
    try:
        flat = pcsv.read_csv(io.BytesIO(lines), read_options=_CSV_READ, parse_options=_CSV_PARSE,
                             convert_options=_CONVERT, memory_pool=pa.system_memory_pool())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    layout = flat.column("layout")
    if flat.num_rows != n or layout.null_count or not pc.all(pc.equal(layout, VERSION)).as_py():
        return None  # a line of another layout (as a rule its count of fields is refused above)
    valid = flat.column("data").combine_chunks()
    if valid.null_count:
        return None
    children = [flat.column(f"data.{name}").combine_chunks() for name, _ in DATA_FIELDS]
    data = pa.StructArray.from_arrays(children, fields=list(DATA), mask=pc.invert(valid))
    table = pa.Table.from_arrays([data, *(flat.column(name).combine_chunks() for name, _ in ENVELOPE_FIELDS)],
                                 schema=SCHEMA)
    other = flat.column(OTHER).combine_chunks()
    return table.append_column(OTHER, other) if other.null_count < n else table


def _plain(table: pa.Table, n: int) -> Any:
    """Per row: whether it holds no value in a column outside SCHEMA (an inferred key)."""
    ok = np.ones(n, dtype=bool)
    for name in table.column_names:
        if name not in SCHEMA.names:
            ok &= table.column(name).is_null().to_numpy(zero_copy_only=False)
    data = table.column("data").combine_chunks()
    known = set(DATA.names)
    if not pa.types.is_struct(data.type):
        return np.zeros(n, dtype=bool)
    for i in range(data.type.num_fields):
        if data.type.field(i).name not in known:
            ok &= data.field(i).is_null().to_numpy(zero_copy_only=False)
    return ok


def _flat(table: pa.Table, plain: Any) -> pa.Table:
    """The line's columns: its layout's VERSION, `data`'s validity, its SCHEMA fields (as stored, under
    a null one too), the envelope's, and true where a row is not `plain` (null where it is)."""
    data = table.column("data").combine_chunks()
    n = len(plain)  # built from buffers: `pa.array` may import pandas (arrow_columns.without_pandas_interop)
    bits = [pa.py_buffer(np.packbits(m, bitorder="little")) for m in (~plain, np.ones(n, dtype=bool))]
    other = pa.Array.from_buffers(pa.bool_(), n, bits, null_count=int(plain.sum()))
    layout = pa.Array.from_buffers(_I, n, [None, pa.py_buffer(np.full(n, VERSION, dtype=np.int64))])
    columns = [layout, data.is_valid(), *(data.field(name) for name, _ in DATA_FIELDS),
               *(table.column(name).combine_chunks() for name, _ in ENVELOPE_FIELDS), other]
    return pa.Table.from_arrays(columns, names=_NAMES)


def _lines(flat: pa.Table, n: int) -> list[bytes | None] | None:
    """The rows as CSV lines without their newlines, or None where a value holds a line break."""
    out = io.BytesIO()
    pcsv.write_csv(flat, out, write_options=_WRITE)
    text = out.getvalue()
    if text.count(b"\n") != n or b"\r" in text:
        return None
    return list(text.split(b"\n")[:n])


@dataclass(frozen=True, slots=True)
class Edited:
    """The rows whose `parsed` line a replay must not take (the edit log): those at `positions`, and
    every one from `from_position` on (entries logged before both an UPDATE's positions were)."""

    positions: Any  # numpy int64, sorted
    from_position: int | None

    def touches(self, positions: Any) -> bool:
        """Whether any of these (sorted) positions is named."""
        if not len(positions):
            return False
        if self.from_position is not None and int(positions[-1]) >= self.from_position:
            return True
        if not len(self.positions):
            return False
        at = np.searchsorted(self.positions, positions)
        inside = at < len(self.positions)
        return bool((self.positions[at[inside]] == positions[inside]).any())


def edited(conn: Connection) -> Edited:
    """What the store's edit log names (`services.store.sql.EDIT_TRIGGERS`)."""
    q = select(store_meta.c.value).where(store_meta.c.key == EDITS_BOTH)
    mark = conn.execute(q).scalar_one_or_none()
    mark = int(mark) if mark is not None else None
    old = None
    if mark is None:  # a store no SqlStore opened since the triggers changed: every entry is of the old kind
        old = conn.execute(select(func.min(event_edits.c.position))).scalar_one_or_none()
    elif mark > 0:
        old = conn.execute(select(func.min(event_edits.c.position)).where(event_edits.c.seq <= mark)) \
            .scalar_one_or_none()
    q = select(event_edits.c.position).distinct().order_by(event_edits.c.position)
    if mark:
        q = q.where(event_edits.c.seq > mark)
    found = [int(p) for p, in conn.execute(q)] if mark is not None else []
    return Edited(np.array(found, dtype=np.int64), None if old is None else int(old))
