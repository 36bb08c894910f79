"""The id index of the compact states: a placement's or an utredning's id -> its row, rows numbered 0,
1, ... in the order the ids were added.

The compact states (`projections.placement_compact`, `projections.investigation_compact`) keep one
row of columns per placement and per utredning, found by id. As a dict, the index of one
municipality of the 10 M store (~400 000 ids) cost ~25 MB and, read back from a replay checkpoint,
0.12–0.17 s of a first as-of replay that folds a few thousand events more: one string and one dict
entry per id, though the replay then looks up a few thousand of them and reads the ids of its
period's rows. So `Ids` keeps its ids in two parts:

* *packed*: the ids' UTF-8 bytes, zero-padded to one width and sorted, with the row of each: two byte
  strings, pickled as they are and read back without one object per id, searched by bisection on
  whole columns (numpy: this is the replay's batch path, STYLE);
* *tail*: a plain dict of the ids added since (the fold adds ids one at a time).

`pack` moves the tail into the packed part (pickling packs first, in place: the index reads the same).
An id holding a zero byte cannot be told from its padding, so an index with one is never packed (it
stays a dict, as before). Single lookups (`get`) cost ~2 µs in the packed part against ~0.1 µs in a
dict: the folds call them per event only for the tail, or for the few events a batch leaves; the
batch calls (`rows_of`, `ids_of`) take whole columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]


@dataclass(slots=True, eq=False)  # equality is the Mapping's (`__eq__`): the same ids on the same rows
class Ids(Mapping[str, int]):
    tail: dict[str, int] = field(default_factory=dict)  # id -> row, rows from the packed count on
    width: int = 0  # bytes of a packed id (0: none packed)
    sorted_ids: bytes = b""  # the packed ids, each `width` bytes (zero-padded), in byte order
    sorted_rows: bytes = b""  # the row of each (little-endian int64): rows 0 .. packed count - 1
    _views: tuple[Any, Any] | None = field(default=None, init=False, repr=False)  # both in numpy (derived)
    _by_row: Any = field(default=None, init=False, repr=False)  # the packed ids in row order (derived)

    @staticmethod
    def taking(numbered: dict[str, int]) -> Ids:
        """An index of `numbered` (ids numbered 0, 1, ... in its order), taken over, not copied."""
        return Ids(tail=numbered)

    # the Mapping

    def __len__(self) -> int:
        return self.packed_count() + len(self.tail)

    def __getitem__(self, key: str) -> int:
        row = self.get(key)
        if row is None:
            raise KeyError(key)
        return row

    def __contains__(self, key: object) -> bool:
        return self.get(key) is not None  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[str]:
        """The ids in row order (as a dict numbered on insertion gives them)."""
        yield from self.ids_of(np.arange(self.packed_count(), dtype=np.int64))
        yield from self.tail

    def __eq__(self, other: object) -> bool:
        """The Mapping's equality, reading each index in row order (not one lookup an id)."""
        if not isinstance(other, Mapping):
            return NotImplemented
        theirs = other.numbered() if isinstance(other, Ids) else other.items()
        return dict(self.numbered()) == dict(theirs)

    def get(self, key: str, default: int | None = None) -> int | None:  # type: ignore[override]  # ints only
        row = self.tail.get(key)
        if row is not None:
            return row
        if not self.width or type(key) is not str:
            return default
        raw = key.encode()
        if len(raw) > self.width or b"\0" in raw:
            return default
        ids, rows = self._arrays()
        at = int(np.searchsorted(ids, raw))
        return int(rows[at]) if at < len(ids) and ids[at] == raw else default

    # numbering

    def add(self, key: str) -> int:
        """Number an id not yet in the index: its row (the next)."""
        row = self.tail[key] = len(self)
        return row

    def numbered(self) -> Iterator[tuple[str, int]]:
        """(id, row) of every id, in row order."""
        packed = self.packed_count()
        yield from zip(self.ids_of(np.arange(packed, dtype=np.int64)), range(packed), strict=True)
        yield from self.tail.items()

    def rows_of(self, keys: Sequence[str]) -> tuple[Ints, int]:
        """The row of each id, ids not yet in the index numbered on in order; and how many were new."""
        out, fresh, tail = np.empty(len(keys), dtype=np.int64), 0, self.tail
        if self.width:
            out[:] = self._find(keys)
            missing: Sequence[int] = np.flatnonzero(out < 0).tolist()
        else:
            missing = range(len(keys))
        for k in missing:
            key = keys[k]
            row = tail.get(key)
            if row is None:
                row = tail[key] = len(self)
                fresh += 1
            out[k] = row
        return out, fresh

    def ids_of(self, rows: Ints) -> list[str]:
        """The ids of the rows given (each a row of the index), in their order."""
        packed = self.packed_count()
        if not len(rows):
            return []
        if packed and int(rows.max()) < packed:
            return [raw.decode() for raw in self._ids_by_row()[rows].tolist()]
        later = list(self.tail)
        by_row = self._ids_by_row() if packed else None
        return [later[row - packed] if row >= packed else by_row[row].decode()  # type: ignore[index]
                for row in rows.tolist()]

    # the packed part

    def packed_count(self) -> int:
        return len(self.sorted_rows) // 8

    def pack(self) -> None:
        """Move the tail into the packed part (nothing moves if an id holds a zero byte or is no
        string, or the tail is not numbered on from the packed part in order)."""
        if not self.tail:
            return
        ids = list(self.tail)
        if any(type(key) is not str for key in ids):
            return
        base, raw = self.packed_count(), [key.encode() for key in ids]
        rows = np.fromiter(self.tail.values(), dtype=np.int64, count=len(ids))
        if b"\0" in b"".join(raw) or not np.array_equal(rows, np.arange(base, base + len(ids))):
            return
        width = max(self.width, max(map(len, raw)), 1)
        new = np.array(raw, dtype=f"S{width}")
        order = np.argsort(new, kind="stable")
        old_ids, old_rows = self._arrays() if base else (np.zeros(0, f"S{width}"), np.zeros(0, np.int64))
        old_ids, new = old_ids.astype(f"S{width}", copy=False), new[order]  # one width for both, once
        at = np.searchsorted(old_ids, new)
        merged_ids = np.insert(old_ids, at, new)
        merged_rows = np.insert(old_rows, at, rows[order])
        self.width, self.sorted_ids = width, merged_ids.tobytes()
        self.sorted_rows = merged_rows.astype("<i8").tobytes()
        self.tail, self._views, self._by_row = {}, None, None

    def _arrays(self) -> tuple[Any, Any]:
        if self._views is None:
            self._views = (np.frombuffer(self.sorted_ids, dtype=f"S{self.width}"),
                           np.frombuffer(self.sorted_rows, dtype="<i8").astype(np.int64))
        return self._views

    def _ids_by_row(self) -> Any:
        if self._by_row is None:
            ids, rows = self._arrays()
            self._by_row = np.empty_like(ids)
            self._by_row[rows] = ids
        return self._by_row

    def _find(self, keys: Sequence[str]) -> Ints:
        """The packed row of each id (-1: not packed)."""
        raw = [key.encode() if type(key) is str else b"\0" for key in keys]
        lengths = np.fromiter(map(len, raw), dtype=np.int64, count=len(raw))
        odd = lengths > self.width  # would be cut to another id's bytes
        if b"\0" in b"".join(raw):  # would read as the id without its zero bytes
            odd |= np.fromiter((b"\0" in r for r in raw), dtype=bool, count=len(raw))
        wanted = np.array(raw, dtype=f"S{self.width}")
        ids, rows = self._arrays()
        at = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1)
        hit = (ids[at] == wanted) & ~odd
        return np.where(hit, rows[at], -1)

    # pickling: packed first, then the four fields (the derived views are made again when used)

    def __getstate__(self) -> tuple[dict[str, int], int, bytes, bytes]:
        self.pack()
        return self.tail, self.width, self.sorted_ids, self.sorted_rows

    def __setstate__(self, state: tuple[dict[str, int], int, bytes, bytes]) -> None:
        tail, width, ids, rows = state
        if not (type(tail) is dict and type(width) is int and type(ids) is bytes and type(rows) is bytes):
            raise ValueError("an id index's state is not (dict, int, bytes, bytes)")
        if len(rows) % 8 or (len(ids) != width * (len(rows) // 8)) or (width < 0):
            raise ValueError(f"an id index of {len(rows)} row bytes and {len(ids)} id bytes of width {width}")
        numbers = np.frombuffer(rows, dtype="<i8")
        if len(numbers) and (int(numbers.min()) < 0 or int(numbers.max()) >= len(numbers)):
            raise ValueError(f"an id index's rows lie outside 0..{len(numbers) - 1}")
        self.tail, self.width, self.sorted_ids, self.sorted_rows = tail, width, ids, rows
        self._views = self._by_row = None
