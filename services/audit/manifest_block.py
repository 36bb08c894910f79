"""The manifest lines of a page of events at once (numpy), byte for byte what `EventDigest.add` writes.

A manifest line is `position<TAB>event id<TAB>SHA-256 of the stored bytes<NEWLINE>`, the id in its
dashed form (`source.canonical_id`). Formatted one event at a time, the hex digest, the dashes and the
f-string cost ~3 µs an event of the folding thread (measured: an as-of replay of 1.44 M events spent
~8 s on its manifest). Here only the SHA-256 of each payload is taken per event; the hex digits, the
dashes and the decimal positions are written into one byte buffer on whole columns.

The ids must be what SQLite's store holds: 32-character ASCII strings. Anything else (a PostgreSQL
uuid, an id of another length) makes `lines` return None, and the caller formats line by line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from itertools import pairwise
from typing import Any, Final

import numpy as np
import pyarrow as pa

_HEX: Final = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# where the 32 characters of an undashed id go in the dashed 36 (8-4-4-4-12)
_ID_AT: Final = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_WIDTH: Final = 1 + 36 + 1 + 64 + 1  # TAB id TAB sha NEWLINE: everything after the position
_TENS: Final = np.array([10**k for k in range(19)], dtype=np.int64)


def digests(payloads: Sequence[bytes]) -> bytes:
    """The SHA-256 of each payload, 32 bytes each, in order (what a page memo keeps for its lines)."""
    return b"".join([hashlib.sha256(p).digest() for p in payloads])


def _id_bytes(ids: Any) -> bytes | None:
    """The ids' characters joined, when every id is 32 ASCII characters (else None)."""
    n = len(ids)
    if isinstance(ids, pa.Array):  # a page's stored ids, as Arrow reads them: no string per id
        if not pa.types.is_string(ids.type) or ids.null_count:
            return None
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * ids.offset)
        if (np.diff(offsets) != 32).any():
            return None
        raw = ids.buffers()[2].to_pybytes()[int(offsets[0]):int(offsets[-1])]
        return raw if raw.isascii() else None
    if any(type(v) is not str or len(v) != 32 for v in ids):
        return None
    raw = "".join(ids).encode("utf-8")
    return raw if len(raw) == 32 * n else None  # else a character outside ASCII


def _fixed(ids: Any, digested: bytes) -> Any:
    """Per event the bytes after its position (n × 103), or None when an id is not 32 ASCII characters."""
    n = len(ids)
    raw = _id_bytes(ids)
    if raw is None or len(digested) != 32 * n:
        return None
    out = np.empty((n, _WIDTH), dtype=np.uint8)
    out[:, 0] = out[:, 37] = ord("\t")
    out[:, -1] = ord("\n")
    dashed = np.full((n, 36), ord("-"), dtype=np.uint8)
    dashed[:, _ID_AT] = np.frombuffer(raw, dtype=np.uint8).reshape(n, 32)
    out[:, 1:37] = dashed
    sha = np.frombuffer(digested, dtype=np.uint8).reshape(n, 32)
    out[:, 38:102:2] = _HEX[sha >> 4]
    out[:, 39:102:2] = _HEX[sha & 15]
    return out


def lines(positions: Sequence[int] | Any, ids: Sequence[Any] | Any, payloads: Sequence[bytes] | None,
          *, digested: bytes | None = None) -> bytes | None:
    """The manifest lines of these events in order (None: ids of another form; format them one by one).

    `digested`: the payloads' SHA-256 already taken (`digests`), then `payloads` is not read.
    """
    n = len(ids)
    if n == 0:
        return b""
    pos = np.asarray(positions, dtype=np.int64)
    if digested is None:
        if payloads is None or len(payloads) != n:
            return None
        digested = digests(payloads)
    if len(pos) != n or (pos < 0).any():
        return None
    fixed = _fixed(ids, digested)
    if fixed is None:
        return None
    width = np.ones(n, dtype=np.int64)  # decimal digits of each position
    for ten in _TENS[1:]:
        width += pos >= ten
    cuts = [0, *(np.flatnonzero(np.diff(width)) + 1).tolist(), n]  # runs of one width (positions ascend)
    parts = []
    for a, b in pairwise(cuts):
        w = int(width[a])
        block = np.empty((b - a, w + _WIDTH), dtype=np.uint8)
        for k in range(w):
            block[:, w - 1 - k] = (pos[a:b] // _TENS[k]) % 10 + ord("0")
        block[:, w:] = fixed[a:b]
        parts.append(block.tobytes())
    return b"".join(parts)
