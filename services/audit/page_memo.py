"""The page memo of the columnar replay: a page gathered once, kept under the SHA-256 of its rows.

Parsing a page's JSON (Arrow's reader) and testing and converting its columns are most of a
rebuild's CPU (measured at 1 M events: ~4.5 of ~6.5 µs an event). What they give depends only on
the page's stored rows, the scope's municipality, the projections, the retraction targets among the
rows and the code. So a page gathered with codes of its own (`local_page.Local`) is written to a
file named by SHA-256 over all of that, and a later replay that reads the same rows takes the file
instead of parsing them. It still reads every row and hashes its stored bytes into the events hash
(and manifest) as before: the memo spares the parse and nothing else.

* **Sound.** The key covers every byte the gather reads: the positions, the stored ids, the appended
  times and the payloads, each with its length, and the code (SHA-256 over the source of `events`,
  `projections` and `services`, and the versions of Python, numpy and pyarrow). A row edited behind
  the store's back changes the key. A page is kept, and taken, only when no retraction target is
  among its stored ids, and kept only when every row it folds carries its stored id in its payload
  (so the stored ids stand for the payloads'). A file that does not read back is a miss.
* **Trusted like the code.** Whoever can write the memo's folder can make a replay report what they
  wrote. `casestream verify` never reads the memo: it re-derives everything from the store.
* **Its own size.** About 60-100 bytes an event, next to the store's ~640. Entries of other code are
  removed when a memo is opened with new code.

A file is one read: a header (JSON: the page's lists, and each column's dtype, offset and length)
and the columns' bytes, with a CRC-32 of both against a disk's accidents (numpy's `.npz` was tried:
its zip members cost 10 ms a page to read, a third of the replay's time). Nothing in it is a pickle.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import struct
import sys
import tempfile
import zlib
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from services.audit import arrow_columns as ac
from services.audit.columnar import Gather, Page
from services.audit.local_page import Local, gather_local
from services.audit.page_rows import PageRows

FORMAT: Final = b"casestream replay page memo 1"
_MAGIC: Final = b"CSPMEMO1"
_SUFFIX: Final = ".page"
_DTYPES: Final = frozenset({"<i4", "<i8", "<u8", "|u1", "|b1"})
_KINDS: Final = (("s", 8), ("r", 6), ("e", 5), ("o", 6), ("c", 4))
_UNSIGNED: Final = {("o", 2), ("o", 3), ("c", 2), ("c", 3)}  # the halves of utredning event ids
log = logging.getLogger(__name__)


@cache
def code_fingerprint() -> str:
    """SHA-256 over the source of the packages a replay's figures come from, and its libraries (taken
    when this module is imported, so a file edited while a replay runs does not name its entries)."""
    h = hashlib.sha256(FORMAT)
    root = Path(__file__).resolve().parents[2]
    for package in ("events", "projections", "services"):
        for path in sorted((root / package).rglob("*.py")):
            h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(f"{sys.version}\0{np.__version__}\0{pa.__version__}".encode())
    return h.hexdigest()


class Memo:
    """Gathered pages in a folder, for one scope's municipality, projections and targets."""

    def __init__(self, root: Path, municipality: str | None, projections: Iterable[str],
                 targets: Iterable[UUID]) -> None:
        code = code_fingerprint()
        self.folder = root / code[:32]
        self.folder.mkdir(parents=True, exist_ok=True)
        _prune(root, self.folder)
        context = orjson.dumps([municipality, sorted(projections)])
        self._context = hashlib.sha256(code.encode() + b"\0" + context).digest()
        self._targets = ac.strings(sorted(t.hex for t in targets))
        self.unwritable = False

    def key(self, rows: PageRows) -> str | None:
        """The page's key (None: a page the memo does not keep, with a stored id or time missing).

        It names which rows are retraction targets: a page is gathered with them left to the ordinary
        path, so a new retraction makes its target's page a new entry (parsed once more), no other.
        """
        if rows.ids.null_count or rows.appended.null_count:
            return None
        h = hashlib.sha256(self._context)
        targeted = b""
        if len(self._targets):
            ids = pc.replace_substring(pc.utf8_lower(rows.ids), "-", "")
            hits = np.flatnonzero(pc.is_in(ids, value_set=self._targets).to_numpy(zero_copy_only=False))
            targeted = hits.astype("<i8").tobytes()
        for part in (targeted, rows.positions.astype("<i8").tobytes(), *_strings(rows.ids),
                     *_strings(rows.appended), rows.ends.astype("<i8").tobytes(), rows.lines):
            h.update(len(part).to_bytes(8, "little"))
            h.update(part)
        return h.hexdigest()

    def holds(self, key: str) -> bool:
        return (self.folder / f"{key}{_SUFFIX}").is_file()

    def get(self, key: str) -> Local | None:
        path = self.folder / f"{key}{_SUFFIX}"
        try:
            local = _decode(*_unpack(path.read_bytes()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, IndexError, orjson.JSONDecodeError) as exc:
            log.warning("replay page memo: %s does not read back (%s); the page is parsed again", path, exc)
            return None
        return local

    def put(self, key: str, local: Local) -> None:
        """Keep a gathered page (before it is folded: folding maps its codes in place).

        A page that cannot be written (a full disk, a folder made read-only) is not kept, and nothing
        more is written by this memo: the replay goes on without keeping pages (said once, as a
        warning)."""
        if not local.ids_agree or self.unwritable:
            return
        data = _pack(*_encode(local))
        try:
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".part")
        except OSError as exc:
            self._cannot_write(exc)
            return
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, self.folder / f"{key}{_SUFFIX}")  # whole or not at all
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            self._cannot_write(exc)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _cannot_write(self, exc: OSError) -> None:
        self.unwritable = True
        log.warning("replay page memo: cannot write in %s (%s); this replay keeps no more pages",
                    self.folder, exc)


def gathered(memo: Memo | None, key: str | None, own: Gather, rows: PageRows, muni: str | None,
             how: str) -> tuple[Local, bool] | None:
    """A page with codes of its own, from the memo or gathered (then kept), and whether it came from
    the memo; None: Arrow cannot read the page as expected. Its rows' SHA-256 are taken and kept
    when the digest writes manifest lines (`how`) and the memo did not have them yet."""
    local = memo.get(key) if memo is not None and key is not None else None
    taken = local is not None
    if local is None:
        local = gather_local(own, rows, muni)
        if local is None:
            return None
    if (local.keep_digests(rows, how) or not taken) and memo is not None and key is not None:
        memo.put(key, local)  # before the fold, which maps its codes in place
    return local, taken


def _prune(root: Path, keep: Path) -> None:
    """Remove the entries of other code (folders named by a code fingerprint)."""
    for other in root.iterdir():
        if other != keep and other.is_dir() and len(other.name) == 32 and all(
                c in "0123456789abcdef" for c in other.name):
            shutil.rmtree(other, ignore_errors=True)


def _strings(values: pa.Array) -> tuple[bytes, bytes]:
    """An Arrow string array's lengths and bytes (whatever its offset in its buffers)."""
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=len(values) + 1,
                            offset=4 * values.offset)
    data = values.buffers()[2]
    body = b"" if data is None else data.to_pybytes()[int(offsets[0]):int(offsets[-1])]
    return np.diff(offsets).astype("<i8").tobytes(), body


def _small(values: Any, unsigned: bool) -> Any:
    """An integer column in the narrowest of int32 / int64 (uint64 for id halves) that holds it."""
    arr = np.asarray(values, dtype=np.uint64 if unsigned else np.int64)
    if not unsigned and len(arr) and int(arr.min()) >= -2**31 and int(arr.max()) < 2**31:
        return arr.astype(np.int32)
    return arr


def _pack(arrays: dict[str, Any], meta: dict[str, Any]) -> bytes:
    """Header and columns in one buffer (see the module docstring)."""
    body, index, at = [], [], 0
    for name, arr in arrays.items():
        raw = np.ascontiguousarray(arr).tobytes()
        index.append([name, arr.dtype.str, at, len(arr)])
        body.append(raw + b"\0" * (-len(raw) % 8))
        at += len(body[-1])
    header = orjson.dumps({"meta": meta, "columns": index})
    header += b" " * (-len(header) % 8)
    payload = header + b"".join(body)
    return _MAGIC + struct.pack("<QI", len(header), zlib.crc32(payload)) + payload


def _unpack(data: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns (views into `data`) and the lists; ValueError for a file that is not whole."""
    start = len(_MAGIC) + 12
    if data[:len(_MAGIC)] != _MAGIC or len(data) < start:
        raise ValueError("not a page memo file")
    size, crc = struct.unpack_from("<QI", data, len(_MAGIC))
    if zlib.crc32(memoryview(data)[start:]) != crc or start + size > len(data):
        raise ValueError("checksum or size does not match")
    head = orjson.loads(data[start:start + size])
    arrays = {}
    for name, dtype, at, count in head["columns"]:
        if dtype not in _DTYPES:
            raise ValueError(f"column {name} of dtype {dtype}")
        arrays[name] = np.frombuffer(data, dtype=dtype, count=count, offset=start + size + at)
    return arrays, head["meta"]


def _encode(local: Local) -> tuple[dict[str, Any], dict[str, Any]]:
    page = local.page
    arrays: dict[str, Any] = {}
    for name, width in _KINDS:
        cols = getattr(page, name)
        for k in range(width):
            arrays[f"{name}{k}"] = _small(cols[k], (name, k) in _UNSIGNED)
    pids, invs, attrs, prices, (persons, person_lengths), (inv_persons, inv_lengths) = local.new
    events, last, munis, back = local.account
    meta = {"cells": page.cells, "counts": [[d, list(cell), n] for (d, cell), n in page.counts],
            "care": page.care, "pids": pids, "invs": invs, "attrs": [list(a) for a in attrs],
            "prices": [list(p) for p in prices], "account": [events, last, sorted(munis), back]}
    arrays["persons"] = np.frombuffer(persons, dtype=np.uint8)
    arrays["person_lengths"] = np.asarray(person_lengths, dtype=np.int64)
    arrays["inv_persons"] = np.frombuffer(inv_persons, dtype=np.uint8)
    arrays["inv_lengths"] = np.asarray(inv_lengths, dtype=np.int64)
    arrays["slow"] = np.asarray(local.slow, dtype=np.int64)
    arrays["excluded"] = np.asarray(local.excluded, dtype=bool)
    if local.digests is not None:
        arrays["digests"] = np.frombuffer(local.digests, dtype=np.uint8)
    return arrays, meta


def _decode(columns: dict[str, Any], meta: dict[str, Any]) -> Local:
    page = Page()
    for name, width in _KINDS:
        setattr(page, name, [columns[f"{name}{k}"].astype(np.uint64 if (name, k) in _UNSIGNED else np.int64)
                             for k in range(width)])
    page.cells = [(d, tuple(cell)) for d, cell in meta["cells"]]
    page.counts = [((d, tuple(cell)), n) for d, cell, n in meta["counts"]]
    page.care = int(meta["care"])
    persons = (columns["persons"].tobytes(), columns["person_lengths"])
    inv_persons = (columns["inv_persons"].tobytes(), columns["inv_lengths"])
    new = (meta["pids"], meta["invs"], [tuple(a) for a in meta["attrs"]], [tuple(p) for p in meta["prices"]],
           persons, inv_persons)
    events, last, munis, back = meta["account"]
    digests = columns["digests"].tobytes() if "digests" in columns else None
    return Local(page, columns["slow"].tolist(), columns["excluded"].tolist(), new,
                 (events, last, set(munis), back), True, digests)


code_fingerprint()
