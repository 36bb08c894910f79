"""Reader processes for the columnar replay: pages read and gathered in two processes, folded in this one.

Reading a page (the SQLite fetch) and parsing its JSON (Arrow) are most of a rebuild's time, and
each page can be done on its own. So `run` hands fixed position ranges to reader processes in turn
(range i to reader i mod n); each reads its ranges, gathers each page on whole columns
(`vector.gather`) with codes of the page's own (so a reader keeps nothing that grows with the
history), and sends the page's columns, the values it saw first
(placement and utredning ids, attribute tuples, prices, persons), its counts and the page's bytes
for the events hash. This process takes the pages strictly in range order, maps each reader's codes
to its own (in the order the values were first seen, so codes are numbered exactly as one process
would number them), gives the care-cost events their arrival numbers, hashes the bytes in position
order and reduces the columns (`columnar_page.settle`). Events a reader leaves (other types,
retraction targets, anything unusual) are decoded and applied here in position order; a page Arrow
cannot read is sent whole and gathered here with Python. So the result is the one-process fold's.
The reader side is `services.audit.reader`.
"""

from __future__ import annotations

import logging
import os
import pickle
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson
from sqlalchemy import func, select

from services.audit import columnar_page, local_page
from services.audit.columnar import Gather, Take
from services.audit.source import Scope, canonical_id, decoded, utc
from services.store.sql import SqlStore
from services.store.tables import events_table as ev

log = logging.getLogger(__name__)

RANGE: Final = 20_000  # positions per page
# a whole-store scope this large gets reader processes by default (measured with readers: 1.08-1.79 times as
# fast at 10 M events, 0.89 at 1 M, where starting the readers weighs more)
LARGE: Final = 5_000_000
LARGE_SHARE: Final = 1_000_000  # a municipality's rows up to the scope's end (see `plan`)


def plan(store: SqlStore, scope: Scope, processes: int | None, *, warm: bool = False,
         after: int = 0) -> int | None:
    """Positions per reader range, or None: no reader processes (a database in memory, a small scope).

    `processes` None: readers for a whole-store scope of LARGE positions or more, or a municipality's
    scope of LARGE_SHARE rows or more (above `after`), on two cores or more; not when the page memo
    is `warm` (holds the scope's first page), where the pages mostly come parsed (measured on the 10 M
    store, as-of year from a filled memo: 12.1-12.8 s in one process, 14.0-14.3 s with two readers,
    on which the folding process waits), nor where the store keeps parsed lines (`services.store.parsed`:
    the rows at both ends of the scope's range have them), whose pages are read faster in one process
    (10 M store, 3 Dec: a full rebuild 19.3 s in one process against 21.7 s with two readers; as-of
    municipality-year without the memo 4.96-5.00 s against 5.77-5.88 s). Ranges are `span_of` the scope.
    """
    database = store._engine.url.database
    if store._engine.url.get_backend_name() == "sqlite" and database in (None, "", ":memory:"):
        return None
    if (processes is not None and processes <= 1) or (processes is None and warm):
        return None
    many = processes is not None or (os.cpu_count() or 1) >= 2
    top = scope.upto or store.head()
    if processes is None and _lines_kept(store, after + 1, top):
        return None
    if scope.municipality is None:
        return RANGE if many and (processes is not None or top - after >= LARGE) else None
    if not many:
        return None
    if processes is None and _rows_of(store, scope.municipality, top, after) < LARGE_SHARE:
        return None
    return span_of(store, scope)


def _lines_kept(store: SqlStore, first: int, last: int) -> bool:
    """Whether the rows at positions `first` and `last` both keep a parsed line (a SQLite store)."""
    if store._engine.url.get_backend_name() != "sqlite" or first > last:
        return False
    q = select(func.count()).where(ev.c.position.in_([first, last]), ev.c.parsed.is_not(None))
    with store._engine.connect() as conn:  # read-only query
        return int(conn.execute(q).scalar_one()) == len({first, last})


def span_of(store: SqlStore, scope: Scope, folder: Path | None = None) -> int:
    """Positions per range: RANGE for a whole store; for a municipality's scope widened by the share of
    its rows, so that a range holds about RANGE of them (measured on the 10 M store, as-of year of
    1.44 M events with readers: 1.19 times as fast as one process; with ranges of RANGE positions, 1.0).
    The share is of the rows up to the store's head, whatever the scope's upper bound, so that replays
    as known at different times, and the parts of a replay split at a checkpoint, read the same ranges
    (and share the page memo's entries).

    `folder` (a page memo's): the spans counted are kept in `spans.json` there, for later processes.
    """
    if scope.municipality is None:
        return RANGE
    top = store.head()
    key = (store.store_id(), scope.municipality, top, RANGE)
    span = _SPANS.get(key)
    if span is None and folder is not None:
        found = _kept_spans(folder).get("/".join(map(str, key)))
        span = found if type(found) is int else None
    if span is None:  # counting a municipality's rows of the 10 M store: 0.26-0.75 s, asked by every part
        span = _span(top, _counted(store, scope.municipality, top, folder))
        if folder is not None:
            _keep_span(folder, "/".join(map(str, key)), span)
    _SPANS[key] = span
    return span


SPANS_KEPT: Final = 256  # entries of a memo folder's spans.json (the oldest go first)


def _kept_spans(folder: Path, name: str = "spans.json") -> dict[str, Any]:
    """The spans (or, in `rows.json`, the counts) kept in a memo folder (none where the file is missing or
    unreadable: counted anew)."""
    try:
        kept = orjson.loads((folder / name).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(kept, dict):
        return {}
    return {k: v for k, v in kept.items() if (type(v) is int and v > 0) or isinstance(v, list)}


def _keep_span(folder: Path, key: str, span: int | list[int], name: str = "spans.json") -> None:
    kept = _kept_spans(folder, name)
    kept.pop(key, None)
    kept[key] = span
    try:
        folder.mkdir(parents=True, exist_ok=True)
        made = folder / f".spans-{os.getpid()}"
        made.write_bytes(orjson.dumps(dict(list(kept.items())[-SPANS_KEPT:])))
        os.replace(made, folder / name)
    except OSError as exc:  # the replay is the same without it
        log.warning("replay page memo: cannot keep spans in %s (%s)", folder, exc)


# (store, municipality, head, RANGE) -> span: a head fixes it, but for rows removed behind the store's
# back, which change only how the memo's pages are cut
_SPANS: dict[tuple[str, str, int, int], int] = {}


def _counted(store: SqlStore, municipality: str, top: int, folder: Path | None) -> int:
    """The municipality's rows up to `top`: from the count a memo folder keeps for an earlier head (its
    `rows.json`: `casestream prepare-replay` leaves one) and the rows appended since, else counted. Rows
    removed behind the store's back since would make it high, which changes only how pages are cut."""
    name = f"{store.store_id()}/{municipality}"
    kept = _kept_spans(folder, "rows.json").get(name) if folder is not None else None
    if isinstance(kept, list) and len(kept) == 2 and all(type(v) is int for v in kept) and 0 < kept[0] <= top:
        rows = int(kept[1]) + _rows_of(store, municipality, top, after=kept[0])
    else:
        rows = _rows_of(store, municipality, top)
    if folder is not None:
        _keep_span(folder, name, [top, rows], "rows.json")
    return rows


def _span(top: int, rows: int) -> int:
    return RANGE * max(1, top // max(rows, 1))


def _rows_of(store: SqlStore, municipality: str, top: int, after: int = 0) -> int:
    q = select(func.count()).select_from(ev).where(ev.c.municipality == municipality, ev.c.position <= top)
    if after:
        q = q.where(ev.c.position > after)
    with store._engine.connect() as conn:  # read-only query
        return int(conn.execute(q).scalar_one())


def ranges_of(scope: Scope, head: int, span: int, after: int = 0) -> list[tuple[int, int]]:
    """The scope's position ranges (lo, hi] on the grid of `span` positions, from `after` to its end
    (the first one shorter when `after` is not on the grid)."""
    top = head if scope.upto is None else min(head, scope.upto)
    out, lo = [], after
    while lo < top:
        hi = min((lo // span + 1) * span, top)
        out.append((lo, hi))
        lo = hi
    return out


def _messages(readers: list[subprocess.Popen[bytes]], count: int) -> Iterator[tuple[int, Any]]:
    for i in range(count):
        k = i % len(readers)
        stream = readers[k].stdout
        assert stream is not None
        try:
            message = pickle.load(stream)
        except EOFError:
            raise RuntimeError(f"replay reader process {k} stopped (exit {readers[k].wait()})") from None
        if message[0] == "error":
            raise RuntimeError(f"replay reader process {k} failed: {message[1]}")
        yield k, message


def run(store: SqlStore, scope: Scope, g: Gather, snap: Any, digest: Any, take: Take, processes: int,
        span: int = RANGE, memo: Path | None = None, after: int = 0, lines: bool = True) -> None:
    """Fold the scope's pages, read and gathered by `processes` reader processes.

    Each reader is `python -m services.audit.reader` (a fresh interpreter: no inherited engine,
    threads or state, whatever the calling program's main module is), told its task on stdin.
    """
    how = columnar_page.hashing(digest)
    ranges = ranges_of(scope, store.head(), span, after)
    url = store._engine.url.render_as_string(hide_password=False)
    readers: list[subprocess.Popen[bytes]] = []
    try:
        for k in range(processes):
            proc = subprocess.Popen([sys.executable, "-m", "services.audit.reader"],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            readers.append(proc)
            assert proc.stdin is not None
            pickle.dump((url, scope, sorted(g.fold.targets), sorted(g.fold.projections), how,
                         ranges[k::processes], memo, lines), proc.stdin)
            proc.stdin.close()
        codes = local_page.Codes()
        for _, message in _messages(readers, len(ranges)):
            _fold(g, codes, message, scope.municipality, snap, digest, take)
        for proc in readers:
            if proc.wait() != 0:
                raise RuntimeError(f"replay reader process exited with {proc.returncode}")
    finally:
        for proc in readers:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _fold(g: Gather, codes: local_page.Codes, message: Any, muni: str | None, snap: Any, digest: Any,
          take: Take) -> None:
    if message[0] == "empty":
        return
    if message[0] == "rows":
        columnar_page.fold_page(g, message[1], muni, snap, digest, take, columns=False)
        return
    _, local, keep, hashed, memo = message
    items = [decoded(pos, canonical_id(eid), utc(appended), bytes(raw)) for pos, eid, appended, raw in keep]
    g.paths["memo" if memo else "columns"] += 1
    local_page.fold_local(g, codes, local, items, hashed, snap, digest, take)
