"""One page of stored rows as columns: positions, event ids, appended_at, and the payloads in one buffer.

The columnar replay needs of a page mostly whole columns: the newline-joined stored bytes (what the
events hash is taken over and Arrow's JSON reader parses), the positions, the appended times of the
rows it folds. Only the events it leaves are needed one by one. So a page is kept as those columns
(`PageRows`), and a row as a tuple (position, event id, appended_at, stored bytes) is made only when
asked for (`rows[i]`). Read from SQLite through ADBC (`services.audit.pages`), the payloads arrive
already followed by their newlines in one Arrow buffer: the joined bytes are that buffer, copied once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, overload

import numpy as np
import pyarrow as pa

from services.audit.arrow_columns import strings
from services.audit.source import as_bytes
from services.store.parsed import decode, parse


def _text(value: Any) -> str | None:
    """A column value as text: a PostgreSQL uuid or datetime in the form `source` reads back."""
    if value is None or isinstance(value, str):
        return value
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _copy(strings: pa.Array) -> pa.Array:
    """A string array in buffers of its own (its values, validity and offsets copied)."""
    n = len(strings)
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * strings.offset)
    data = strings.buffers()[2]
    body = b"" if data is None else data.to_pybytes()[int(offsets[0]):int(offsets[-1])]
    valid = None
    if strings.null_count:
        valid = pa.py_buffer(np.packbits(strings.is_valid().to_numpy(zero_copy_only=False),
                                         bitorder="little").tobytes())
    return pa.Array.from_buffers(pa.string(), n, [valid, pa.py_buffer((offsets - offsets[0]).tobytes()),
                                                  pa.py_buffer(body)], null_count=strings.null_count)


def _joined(values: pa.Array) -> bytes:
    """A binary array's values, one after the other, as bytes of their own."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1,
                            offset=4 * values.offset)
    body: bytes = values.buffers()[2].to_pybytes()
    return body[int(offsets[0]):int(offsets[-1])]


class PageRows(Sequence[tuple[Any, ...]]):
    """A page's rows in position order; `rows[i]` is (position, event id, appended_at, stored bytes)."""

    __slots__ = ("_ends", "_table", "appended", "ids", "lines", "parsed", "positions")

    def __init__(self, positions: Any, ids: pa.Array, appended: pa.Array, lines: bytes, ends: Any,
                 parsed: bytes | None = None) -> None:
        self.positions = positions  # numpy int64
        self.ids = ids  # Arrow strings, as the store keeps them (32 hex digits in SQLite)
        self.appended = appended  # Arrow strings, as the driver gives appended_at
        self.lines = lines  # every payload followed by a newline: exactly what the events hash is over
        self._ends = ends  # numpy int64: where each row's line ends in `lines` (after its newline)
        # the store's parsed lines of every row, each followed by a newline (`services.store.parsed`), or None
        self.parsed = parsed
        self._table: pa.Table | bool | None = False  # False: not parsed yet

    def table(self) -> pa.Table | None:
        """Arrow's parse of the lines (`services.store.parsed.parse`; None: Arrow cannot read them as
        expected), made once: from the store's parsed lines where the page has them (`decode`, the same
        table), else from the payloads. The page reader's thread makes it ahead of the fold
        (`parsed_ahead`): Arrow's readers let the GIL go, so it runs beside the folding of the page before."""
        if self._table is False:
            found = decode(self.parsed, len(self)) if self.parsed is not None else None
            self._table = found if found is not None else parse(self.lines, len(self))
            self.parsed = None  # read: its bytes go (a page's lines are ~4 MB)
        return self._table

    @classmethod
    def from_tuples(cls, rows: Sequence[Sequence[Any]]) -> PageRows:
        """From the DBAPI cursor's tuples (position, event id, appended_at, payload)."""
        payloads = [r[3] if type(r[3]) is bytes else as_bytes(r[3]) for r in rows]
        lines = b"\n".join(payloads) + b"\n" if payloads else b""
        ends = np.cumsum(np.fromiter((len(p) + 1 for p in payloads), dtype=np.int64, count=len(payloads)))
        return cls(np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows)),
                   strings([_text(r[1]) for r in rows]), strings([_text(r[2]) for r in rows]), lines, ends)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> PageRows:
        """From a table of (position, event id, appended_at, payload followed by a newline[, parsed line
        followed by a newline: kept where every row has one])."""
        if table.num_rows == 0:
            return cls(np.zeros(0, dtype=np.int64), strings([]), strings([]),
                       b"", np.zeros(0, dtype=np.int64))
        body = table.column(3).combine_chunks()
        offsets = np.frombuffer(body.buffers()[1], dtype=np.int32, count=len(body) + 1,
                                offset=4 * body.offset)
        first = int(offsets[0])
        lines = body.buffers()[2].to_pybytes()[first:int(offsets[-1])]
        # copies all: an array imported from the driver keeps its whole batch (the payloads) alive
        ids, appended = (_copy(table.column(k).combine_chunks()) for k in (1, 2))
        parsed = None
        if table.num_columns > 4 and table.column(4).null_count == 0:
            parsed = _joined(table.column(4).combine_chunks())
        return cls(table.column(0).to_numpy().astype(np.int64), ids, appended, lines,
                   offsets[1:].astype(np.int64) - first, parsed)

    def __len__(self) -> int:
        return len(self.positions)

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[Any, ...]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError(i)
        i %= n
        return int(self.positions[i]), self.ids[i].as_py(), self.appended[i].as_py(), self.payload(i)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        ids, appended = self.ids.to_pylist(), self.appended.to_pylist()
        for i, payload in enumerate(self.payloads()):
            yield int(self.positions[i]), ids[i], appended[i], payload

    def payload(self, i: int) -> bytes:
        """Row i's stored bytes."""
        start = int(self._ends[i - 1]) if i else 0
        return self.lines[start:int(self._ends[i]) - 1]

    def payloads(self) -> list[bytes]:
        """Every row's stored bytes, in order."""
        ends = self._ends.tolist()
        lines = self.lines
        return [lines[a:b - 1] for a, b in zip([0, *ends[:-1]], ends, strict=True)] if ends else []

    @property
    def ends(self) -> Any:
        """Where each row's line ends in `lines` (after its newline), numpy int64."""
        return self._ends

    def id_list(self) -> list[Any]:
        ids: list[Any] = self.ids.to_pylist()
        return ids

    def __reduce__(self) -> Any:  # sent by reader processes: the columns, not tuples (not the parse)
        return PageRows, (self.positions, self.ids, self.appended, self.lines, self._ends, self.parsed)
