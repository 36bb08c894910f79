"""Replay checkpoints: a scope's folded state up to a position, kept to start later replays from.

An as-of replay folds every included event of its scope and hashes its stored bytes, from the first
position on (on the 10 M store one municipality as known at the end of 2022 is 1.44 M events; reading
them alone took 4.2 s). Yet every row of a scope up to some position P is included in every later
replay of that scope whenever each of them was recorded by the checkpoint's known-at time. So a replay
made with a page memo (`--memo`, the default) also keeps, in the memo's folder:

* P: the position before the scope's first row recorded after the replay's known-at (or its head);
* the state folded from the scope's rows up to P (a compact `bundle.State`), the municipalities and
  back-registrations counted, and the digest there (`digest.Cut`: the inner states of the events hash
  and the manifest hash, `services.audit.sha256_state`, the count and position range, and the
  manifest's lines so far, one gzip member).

A later replay of the same scope then starts from the checkpoint with the highest P it may take, and
reads, hashes and folds only the rows above P. Its proof is the one a replay from the first position
gives (the events hash is the same SHA-256 over the same bytes in the same order; the manifest file is
that member and one more, which gzip reads as one stream). A checkpoint is taken only when:

* it was made by the same code (`page_memo.code_fingerprint`), for the same municipality (or the whole
  store) and projections, with a SHA-256 state of the same flavour (library and byte order);
* its known-at time is at or before the replay's (so every row up to P is recorded by then), and P is
  at or below the replay's head;
* the store's edit log (`services.store.tables.event_edits`, kept by triggers) names no row at or below
  P changed or removed since it was made (SQLite files and PostgreSQL databases keep it; a SQLite
  database in memory makes no checkpoints);
* every event a retraction at or below the head now targets, beyond those it was made with, lies
  above P (the events up to P that were no target then were folded for good);
* its files read back whole (SHA-256 of the state and the manifest as recorded).

Trusted like the page memo: whoever can write its folder can make a replay report what they wrote.
`casestream verify` never reads it; it re-derives every figure from the store's bytes. The state is a
pickle of the projections' own dataclasses, read by a restricted unpickler
(`services.audit.checkpoint_state`), so a file put there cannot run code. A checkpoint also keeps
where the replay found the scope's last included row (`pages.Bound`), which a later replay's
`pages.bounded_from` starts from. At most `KEEP` checkpoints are kept per scope (the least recently
taken go first), and those of other code are removed when the folder is opened.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import orjson
from sqlalchemy import func, select

from events.timeutil import as_aware
from projections import bundle
from services.audit import sha256_state
from services.audit.checkpoint_files import file_sha256, kept_manifest
from services.audit.checkpoint_state import dump_state, load_state, packed, unpacked
from services.audit.digest import Cut
from services.audit.page_memo import code_fingerprint
from services.audit.pages import Bound
from services.audit.source import Scope
from services.store.sql import SqlStore
from services.store.tables import event_edits
from services.store.tables import events_table as ev

FORMAT: Final = 2  # 2: the state file compressed (`checkpoint_state.packed`), its pickled size recorded
KEEP: Final = 4  # checkpoints per scope (municipality and projections)
# A checkpoint made from another is written only where a later replay is spared at least one row for
# every ROW_BYTES bytes of state written. Measured on the 10 M store (municipality-year, 46 MB state,
# one profiled month-later replay): writing one took 0.34 s (7.4 ns a byte: pickling, writing, hashing
# the linked manifest); reading and folding the rows after a checkpoint 0.31 s for 42 000 rows
# (7.3 µs a row, memo warm). Compressing the state (FORMAT 2) adds 2.2 ns a pickled byte (0.17 s for
# 75 MB): 9.6 ns, so about 760 bytes to a row.
ROW_BYTES = 760
FOLDER: Final = "checkpoints"
PREPARED: Final = "p"  # the file names of prepared checkpoints start with it (`Checkpoints.prepared_glob`)
log = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True, slots=True)
class Found:
    """A checkpoint a replay may start from."""

    upto: int
    state: bundle.State
    cut: Cut
    manifest: Path  # the manifest's lines up to `upto` (whole gzip members)
    municipalities: set[str]
    back_registered: int
    targets: frozenset[UUID]  # the retraction targets it was folded with
    exact: bool  # the scope's rows up to `upto` recorded by its known-at (else: all of them, prefix)
    bound: Bound | None = None  # the replay's last included row then, if no row up to its head changed since
    size: int = 0  # the state's bytes, pickled (its file holds them compressed)
    known_at: datetime | None = None  # the record time it was made as known at (None: the whole store)
    projections: frozenset[str] = frozenset()  # those folded into its state (those asked for, or more)


def spares(base: tuple[int, int] | None, count: int) -> bool:
    """Whether a checkpoint of a digest's first `count` events is worth writing where a replay started
    from, or wrote, one of `base` (its events counted, its state's bytes; None: none): whether the rows
    it spares a later replay (those folded since) cost more to read than it costs to write
    (`ROW_BYTES`)."""
    return base is None or (count - base[0]) * ROW_BYTES >= base[1]


class Checkpoints:
    """The checkpoints in a page memo's folder (`root`), for one store."""

    def __init__(self, root: Path, store: SqlStore) -> None:
        code = code_fingerprint()
        self.code = code
        self.store_id = store.store_id()
        self.folder = root / FOLDER / code[:32]
        self.folder.mkdir(parents=True, exist_ok=True)
        for other in self.folder.parent.iterdir():  # checkpoints of other code
            if other != self.folder and other.is_dir():
                shutil.rmtree(other, ignore_errors=True)
        self.store = store

    @staticmethod
    def usable(store: SqlStore | None) -> bool:
        """Whether replays of `store` make and take checkpoints: a SQLite file or a PostgreSQL database
        (their edit logs) and a SHA-256 whose state can be saved."""
        if store is None or not sha256_state.resumable():
            return False
        url = store._engine.url
        if url.get_backend_name() == "postgresql":
            return True
        return url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")

    # --- the store's side --------------------------------------------------------------------------

    def edit_mark(self) -> int:
        """The edit log's last entry (0: none yet); taken before a checkpoint's rows are read. On PostgreSQL
        under a SHARE lock, which waits for the transactions that logged an edit and have not committed
        (their numbers may lie below a mark read past them: `services.store.sql.PG_EDIT_BODY`)."""
        with self.store._engine.connect() as conn:  # read-only but for the lock, gone with the connection
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE event_edits IN SHARE MODE")
            return int(conn.execute(select(func.coalesce(func.max(event_edits.c.seq), 0))).scalar_one())

    def _edited(self, mark: int, upto: int) -> bool:
        q = select(event_edits.c.seq).where(event_edits.c.seq > mark, event_edits.c.position <= upto).limit(1)
        with self.store._engine.connect() as conn:
            return conn.execute(q).first() is not None

    def _id_at(self, position: int) -> str | None:
        """The event id stored at `position` (None: no row there)."""
        with self.store._engine.connect() as conn:
            found = conn.execute(select(ev.c.event_id).where(ev.c.position == position)).scalar_one_or_none()
        return None if found is None else str(found)

    def _positions(self, ids: Iterable[UUID]) -> list[int]:
        ids = list(ids)
        out: list[int] = []
        with self.store._engine.connect() as conn:
            for at in range(0, len(ids), 500):
                q = select(ev.c.position).where(ev.c.event_id.in_(ids[at:at + 500]))
                out.extend(int(p) for (p,) in conn.execute(q))
        return out

    # --- the folder's side -------------------------------------------------------------------------

    def _scope_key(self, municipality: str | None, projections: Iterable[str]) -> str:
        return hashlib.sha256(orjson.dumps([municipality, sorted(projections)])).hexdigest()[:16]

    @staticmethod
    def _prepared_prefix(municipality: str | None) -> str:
        """How the file names of a municipality's prepared checkpoints (any projections) begin."""
        return f"{PREPARED}-{hashlib.sha256(orjson.dumps(municipality)).hexdigest()[:16]}-"

    def prepared_glob(self, municipality: str | None) -> str:
        """The file names of a municipality's prepared checkpoints: `p-<key>-*.json`."""
        return f"{self._prepared_prefix(municipality)}*.json"

    def _records(self, pattern: str) -> list[tuple[Path, dict[str, Any]]]:
        records = []
        for path in self.folder.glob(pattern):
            try:
                records.append((path, orjson.loads(path.read_bytes())))
            except (OSError, orjson.JSONDecodeError) as exc:
                log.warning("replay checkpoint: %s does not read back (%s); not taken", path, exc)
        return records

    def find(self, scope: Scope, projections: Iterable[str], targets: frozenset[UUID], *,
             prepared_only: bool = False) -> Found | None:
        """The checkpoint with the highest P that a replay of `scope` (with these retraction targets at or
        below its head) may start from; None when there is none. Besides those of its own projections,
        the scope's prepared checkpoints (`casestream prepare-replay`) of these projections or more are
        candidates: a state with more projections folded gives the same figures for those asked for
        (each projection is folded from the events alone), and the replay then folds them all. At the
        same P, the one with fewer projections is taken."""
        projections = sorted(projections)
        key = self._scope_key(scope.municipality, projections)
        head = self.store.head() if scope.upto is None else scope.upto
        records = self._records(self.prepared_glob(scope.municipality))
        if not prepared_only:
            records += self._records(f"{key}-*.json")
        for path, rec in sorted(records, key=lambda r: (-int(r[1].get("upto", 0)),
                                                        len(r[1].get("projections", ())))):
            found = self.taken(path, rec, scope, projections, targets, head)
            if found is not None:
                os.utime(path)  # recently taken: kept longest
                return found
        return None

    def taken(self, path: Path, rec: dict[str, Any], scope: Scope, projections: Iterable[str],
              targets: frozenset[UUID], head: int) -> Found | None:
        """The checkpoint of record `rec` (read from `path`) if a replay of `scope` may start from it, its
        state read back; else None (logged where its files do not read back)."""
        try:
            known = None if rec["known_at"] is None else datetime.fromisoformat(rec["known_at"])
            same = (rec["format"], rec["store"], rec["code"], rec["flavour"], rec["municipality"])
            if same != (FORMAT, self.store_id, self.code, sha256_state.flavour(), scope.municipality):
                return None
            folded = frozenset(rec["projections"])
            if not folded >= set(projections):
                return None
            if (known is None) != (scope.known_at is None):
                return None
            exact = bool(rec["exact"])
            if known is not None and scope.known_at is not None and (
                    known != as_aware(scope.known_at) if exact else known > as_aware(scope.known_at)):
                return None
            upto = int(rec["upto"])
            if upto > head or self._edited(int(rec["edits"]), upto) or self._id_at(upto) != rec["id_at_upto"]:
                return None
            made_with = frozenset(UUID(t) for t in rec["targets"])
            new = targets - made_with
            if new and any(p <= upto for p in self._positions(new)):
                return None
            state_file, manifest = path.with_suffix(".state"), path.with_suffix(".manifest")
            data = state_file.read_bytes()
            if hashlib.sha256(data).hexdigest() != rec["state_sha256"]:
                raise ValueError("a file does not match its SHA-256 (the state)")
            size = int(rec["state_bytes"])
            with ThreadPoolExecutor(1) as beside:  # hashlib lets the GIL go: beside reading the state
                manifest_sha256 = beside.submit(file_sha256, manifest, int(rec["manifest_size"]))
                state = load_state(unpacked(data, size))
                if manifest_sha256.result() != rec["manifest_sha256"]:
                    raise ValueError("a file does not match its SHA-256 (the manifest)")
            cut = Cut(bytes.fromhex(rec["events_state"]), bytes.fromhex(rec["manifest_state"]),
                      int(rec["count"]), rec["first_position"], rec["last_position"], None,
                      int(rec["manifest_size"]))
            kept = rec.get("bound")  # [known_at, last, head] or None
            bound = None if kept is None else Bound(datetime.fromisoformat(kept[0]), int(kept[1]),
                                                    int(kept[2]))
            if bound is not None and (bound.head > head or self._edited(int(rec["edits"]), bound.head)):
                bound = None
            return Found(upto, state, cut, manifest, set(rec["municipalities"]),
                         int(rec["back_registered"]), made_with, exact, bound, size, known, folded)
        except (OSError, KeyError, TypeError, ValueError, pickle.UnpicklingError, EOFError,
                AttributeError) as exc:
            log.warning("replay checkpoint: %s does not read back (%s); not taken", path, exc)
            return None

    def save(self, scope: Scope, upto: int, projections: Iterable[str], targets: frozenset[UUID], mark: int,
             snap: Any, cut: Cut, *, exact: bool, bound: Bound | None = None,
             prepared: bool = False) -> int | None:
        """Keep a checkpoint of `snap` (a `replay.Snapshot`: state, municipalities, back-registrations),
        before later events are folded into it: `exact`, the scope's rows up to `upto` recorded by its
        known-at; else every row of the scope up to `upto` (all recorded by then). Its state's bytes as
        pickled (what `spares` weighs; the file holds them compressed), or None, with a warning, when it
        cannot be written (the replay is the same without it). `prepared`: one of the month-end
        checkpoints `casestream prepare-replay` makes (`services.audit.prepare`), which are not evicted
        by replays (a prepare run replaces them)."""
        if cut.manifest is None:
            raise ValueError("a checkpoint keeps the manifest: cut a digest that writes one")
        key = self._scope_key(scope.municipality, projections)
        known = None if scope.known_at is None else as_aware(scope.known_at).isoformat()
        name = hashlib.sha256(orjson.dumps([key, upto, known, exact, sorted(t.hex for t in targets)])
                              ).hexdigest()[:16]
        path = self.folder / f"{key}-{name}.json"
        if prepared:
            path = self.folder / f"{self._prepared_prefix(scope.municipality)}{key}{name}.json"
        try:
            dumped = dump_state(snap.state)
            data = packed(dumped)
            made = tempfile.mkdtemp(dir=self.folder, prefix=".new-")
            try:
                tmp = Path(made)
                (tmp / "state").write_bytes(data)
                manifest_sha256 = kept_manifest(cut.manifest, cut.manifest_size, tmp / "manifest")
                rec = {
                    "format": FORMAT, "store": self.store_id, "id_at_upto": self._id_at(upto),
                    "code": self.code, "flavour": sha256_state.flavour(),
                    "municipality": scope.municipality, "projections": sorted(projections), "known_at": known,
                    "upto": upto, "exact": exact, "edits": mark, "targets": sorted(str(t) for t in targets),
                    "events_state": cut.events_state.hex(), "manifest_state": cut.manifest_state.hex(),
                    "count": cut.count, "first_position": cut.first_position,
                    "last_position": cut.last_position,
                    "manifest_size": cut.manifest_size, "municipalities": sorted(snap.municipalities),
                    "back_registered": snap.back_registered, "state_sha256": hashlib.sha256(data).hexdigest(),
                    "state_bytes": len(dumped),
                    "manifest_sha256": manifest_sha256,
                    "bound": None if bound is None else [bound.known_at.isoformat(), bound.last, bound.head],
                    "prepared": prepared,
                }
                os.replace(tmp / "state", path.with_suffix(".state"))
                os.replace(tmp / "manifest", path.with_suffix(".manifest"))
                (tmp / "record").write_bytes(orjson.dumps(rec))
                os.replace(tmp / "record", path)  # last: a record names only files in place
            finally:
                shutil.rmtree(made, ignore_errors=True)
        except OSError as exc:
            log.warning("replay checkpoint: cannot keep one in %s (%s); replaying without it",
                        self.folder, exc)
            return None
        if not prepared:
            self._evict(key)
        return len(dumped)

    def prepared_records(self, municipality: str | None) -> list[tuple[Path, dict[str, Any]]]:
        """The records of a municipality's prepared checkpoints, as read (any projections)."""
        return self._records(self.prepared_glob(municipality))

    @staticmethod
    def remove(path: Path) -> None:
        """Remove a checkpoint (record first: a state or manifest without one is never read)."""
        for suffix in (".json", ".state", ".manifest"):
            path.with_suffix(suffix).unlink(missing_ok=True)

    def _evict(self, key: str) -> None:
        """Keep the KEEP most recently made or taken checkpoints of a scope."""
        records = sorted(self.folder.glob(f"{key}-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in records[KEEP:]:
            self.remove(old)
