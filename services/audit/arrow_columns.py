"""Arrow columns for the columnar replay: the helpers on whole columns.

A page's payloads are parsed by Arrow's JSON reader into the schema of the fields the raw fold reads
(`services.store.parsed`: `parse`, or `decode` of the lines the store keeps beside them). Here those
columns become numpy values: converted once per distinct value (`codes`, `mapped`), distinct tuples
of several columns (`combined`, `unique_rows`) and event ids as two 64-bit halves of their hex digits
(`halves`). Used by `services.audit.vector`.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_S: Final = pa.string()

_HEX: Final = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX_AT: Final = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])


def indices(rows: Any) -> Any:
    """Row numbers (a sequence or numpy array) as an Arrow int64 array over numpy's buffer (no copy;
    `pa.array` converts element by element and probes for pandas, see `without_pandas_interop`)."""
    values = np.ascontiguousarray(rows, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


class _NoPandas:
    """A meta path finder refusing pandas (while pyarrow probes for it: `without_pandas_interop`)."""

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ImportError(f"{name}: not imported in a replay process (without_pandas_interop)")


def without_pandas_interop() -> None:
    """Let pyarrow find no pandas in this process, where it is not yet imported.

    pyarrow's first conversion to numpy (or from Python values) imports pandas where it is installed
    (Streamlit brings it) to recognise pandas' types: 0.4 s of an as-of replay of ~2 s that converts
    none. pyarrow asks once and keeps the answer, so in this process its pandas conversions
    (`to_pandas`, `from_pandas`) fail afterwards: only for processes that replay and nothing else
    (the `casestream replay`, `diff` and `verify` commands and the replay benchmark's processes).
    A process that has imported pandas already keeps it (a replay started from the UI)."""
    if "pandas" in sys.modules:
        return
    refuse = _NoPandas()
    sys.meta_path.insert(0, refuse)
    try:
        pa.array([0], pa.int64()).to_numpy()  # pyarrow probes for pandas now
    finally:
        sys.meta_path.remove(refuse)


def strings(values: Sequence[str | None]) -> Any:
    """Texts (None: null) as an Arrow string array, built from buffers (not `pa.array`: see `indices`)."""
    encoded = [b"" if v is None else v.encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int32)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int32, count=len(encoded)), out=offsets[1:])
    missing = np.fromiter((v is None for v in values), dtype=bool, count=len(values))
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little")) if missing.any() else None
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(_S, len(encoded), buffers, null_count=int(missing.sum()))


def flat(values: Any) -> Any:
    """An Arrow array from an array or a chunked array."""
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def to_np(column: Any, fill: Any) -> Any:
    return column.fill_null(fill).to_numpy(zero_copy_only=False)


def codes(column: Any, convert: Callable[[Any], Any], bad: Any) -> tuple[Any, Any]:
    """Per row: the converted value's code in a lookup table (once per distinct value), and the table."""
    encoded = flat(pc.dictionary_encode(flat(column)))
    table = []
    for value in encoded.dictionary.to_pylist():
        try:
            table.append(convert(value))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            table.append(bad)
    indices = to_np(encoded.indices, -1)
    return indices, table


def mapped(column: Any, convert: Callable[[Any], int], bad: int) -> Any:
    """Per row the converted value as int64 (`bad` where it does not convert; nulls convert None)."""
    indices, table = codes(column, convert, bad)
    lut = np.array([*table, bad], dtype=np.int64)
    nulls = indices < 0
    out = lut[np.where(nulls, len(table), indices)]
    if nulls.any():
        try:
            out[nulls] = convert(None)
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            out[nulls] = bad
    return out


def null_or(column: Any) -> Any:
    return to_np(column.is_null(), True)


def halves(ids: Any) -> tuple[Any, Any, Any]:
    """An id column of 36-character strings as two uint64 halves of its hex digits, and which parse."""
    ids = pa.concat_arrays([ids]) if ids.offset else ids  # a fresh, unsliced buffer
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


def combined(columns: list[Any], rows: Any, nulls: list[Any]) -> tuple[Any, list[tuple[Any, ...]]]:
    """Per selected row a code of its tuple of values (nulls as given), and the distinct tuples."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64), []
    parts, tables = [], []
    for column, null in zip(columns, nulls, strict=True):
        found, table = codes(column.take(indices(rows)), lambda v: v, None)
        parts.append(np.where(found < 0, len(table), found))
        tables.append([*table, null])
    unique, inverse = unique_rows(parts, [len(t) for t in tables])
    values = [tuple(tables[i][j] for i, j in enumerate(row)) for row in unique.tolist()]
    return inverse.reshape(-1), values


def unique_rows(parts: list[Any], radices: list[int]) -> tuple[Any, Any]:
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
