"""The page loop of the columnar replay: each page gathered on whole columns (Arrow), else with Python.

For each page of stored rows (`pages.pages`): the stored bytes joined by newlines (exactly what
the events hash is over), then `vector.gather` reads them as columns; where Arrow cannot read the page
as expected, each payload is parsed with orjson and read by `columnar.gather`; where a payload does
not parse at all, the page goes through `fast.fold_rows` whole. The events the gather leaves are
decoded and applied the ordinary way, in position order, after the page's columns are reduced. The
two commute: the compact states keep extremes over order keys (µs, position, arrival; positions are
unique, so an arrival number never decides), aktualiseringar add up, and the investigation counts are
recounted from the resolved investigations at the end.

The cyclic garbage collector is paused during the replay (`services.audit.collector`): millions of
new, acyclic values would otherwise trigger full collections over the growing state (measured: 40 %
of the parse time).
The interpreter's switch interval is shortened to 1 ms meanwhile: the folding thread drops the GIL in
every Arrow and numpy call, and with the default 5 ms it then waited for the page reader's thread to
hand it back (measured on the 1 M store: a rebuild 8.2 s -> 7.5 s).

Arrow allocates from the C library's heap meanwhile (its system pool, not the mimalloc pool it
uses by default): measured on the 1 M store, 373-386 MB peak against 397-414, at the same speed
(within the noise of this machine).
Every 50 pages, and before the compact state is built, the heap's free pages are given back to the
system (glibc's `malloc_trim`, through ctypes: no library does this one call; where the C library
has none, nothing happens). Pages of several MB freed between the state's small allocations leave
holes the allocator keeps: measured at 10 M events, peak RSS 940 against 992 MB at the same speed.
"""

from __future__ import annotations

import ctypes
import logging
import sys
from collections.abc import Generator, Iterator
from functools import cache
from pathlib import Path
from typing import Any, Final
from uuid import UUID

import pyarrow as pa

from projections import bundle
from services.audit import collector, fast, local_page, page_memo, parallel, rawfold
from services.audit.columnar import Gather, Take
from services.audit.columnar_page import decode_slow, fold_page, hashed_page, hashing
from services.audit.page_rows import PageRows
from services.audit.pages import Reader, bounded, page_between, pages, parsed_ahead, prefetched
from services.audit.source import Scope
from services.store.sql import SqlStore

TRIM_EVERY: Final = 50  # pages
log = logging.getLogger(__name__)


def release_free_memory() -> bool:
    """Return the heap's free pages to the system: True when some were (never where the C library
    has no `malloc_trim`, see the module docstring)."""
    trim = getattr(_libc(), "malloc_trim", None)
    return bool(trim(0)) if trim is not None else False


@cache
def _libc() -> Any:
    """The C library the interpreter runs on (its own symbols). Not `ctypes.util.find_library`: that
    starts `ldconfig`, a fork of this process, which at the end of a large replay is ~800 MB."""
    try:
        return ctypes.CDLL(None)
    except OSError:
        return None


def run(store: SqlStore, scope: Scope, snap: fast.Counted, fold: rawfold.RawFold, digest: Any,
        take: Take, *, processes: int | None = None, memo: Path | None = None, after: int = 0,
        bound: bool = True, lines: bool = True) -> None:
    """Fold every included row: in columns where the raw fold accepts it, else `take(decoded, hashed)`.

    `after`: only the rows above this position (the rest of a scope whose rows up to it are already in
    `fold.state`: from a checkpoint, `services.audit.checkpoint`). `bound` False: the scope's upper
    position needs no bound by its last included row (every row up to it is included).

    `processes`: reader processes for the pages (`services.audit.parallel`; default: two for a large
    scope on a machine with two cores or more, else none: the pages are read in this process).
    `memo`: the folder of a page memo (`services.audit.page_memo`) to take gathered pages from and
    keep them in; None: every page is parsed.
    `lines`: take the store's parsed lines for the pages that have them (`services.store.parsed`; the
    same columns as parsing the payloads); False: parse every page from its payloads.
    """
    g = Gather(fold)
    interval, pool = sys.getswitchinterval(), pa.default_memory_pool()
    sys.setswitchinterval(min(interval, 0.001))  # see the module docstring; both restored below
    pa.set_memory_pool(pa.system_memory_pool())
    keyed: Keyed | None = None  # the memo loop's pages, the first read (closed below)
    with collector.paused():
        try:
            kept = None if memo is None else _opened(memo, scope, fold)
            # ranges are as wide for every known-at time (so the memo's pages are shared by them); the
            # reads stop at the scope's last included row
            width = None if kept is None or memo is None else parallel.span_of(store, scope, memo)
            read = bounded(store, scope) if bound else scope
            keyed = None if kept is None or width is None else _warm(store, read, kept, width, after, lines)
            # rows up to the last included
            span = parallel.plan(store, read, processes, warm=keyed is not None and keyed.warm, after=after)
            if span is not None:  # the readers open the memo only if this process could
                if keyed is not None:
                    keyed.close()  # the readers read every range, the first too
                parallel.run(store, read, g, snap, digest, take, processes or 2, span,
                             memo if kept is not None else None, after, lines)
            elif keyed is not None and kept is not None:
                _memo_loop(g, snap, digest, take, kept, keyed, scope.municipality)
            else:
                read_ahead = prefetched(parsed_ahead(pages(store, read, after, lines)))
                for n, rows in enumerate(read_ahead, start=1):
                    fold_page(g, rows, scope.municipality, snap, digest, take)
                    if n % TRIM_EVERY == 0:
                        release_free_memory()
            release_free_memory()
            g.finish(fold.state)
            snap.paths = g.paths
        finally:
            if keyed is not None:
                keyed.close()
            pa.set_memory_pool(pool)
            sys.setswitchinterval(interval)


def _opened(folder: Path, scope: Scope, fold: rawfold.RawFold) -> page_memo.Memo | None:
    """The page memo in `folder`, or None (with a warning) where it cannot be made: the replay is the
    same without it."""
    try:
        return page_memo.Memo(folder, scope.municipality, fold.projections, [UUID(t) for t in fold.targets])
    except OSError as exc:
        log.warning("replay page memo: cannot use %s (%s); replaying without it", folder, exc)
        return None


def _ranged(store: SqlStore, scope: Scope, span: int, memo: page_memo.Memo, after: int = 0,
            parse: bool = False, lines: bool = True) -> Generator[tuple[PageRows, str | None], None, None]:
    """The scope's pages by position ranges, as reader processes read them (so one process and readers
    keep the same pages in the memo), each with its memo key; `parse`: those after the first that the
    memo does not hold parsed as they are read (`pages.parsed_ahead`). The first is read before it is
    known where the pages are folded (`Keyed`: reader processes may read them all again); where it is
    gathered, `PageRows.table` parses it then."""
    first = True
    with Reader(store._engine, lines=lines) as reader:
        for lo, hi in parallel.ranges_of(scope, store.head(), span, after):
            rows = page_between(reader, scope, lo, hi)
            if len(rows):
                key = memo.key(rows)  # in the reading thread: hashlib drops the GIL on the bytes
                if parse and not first and key is not None and not memo.holds(key):
                    rows.table()  # as `parsed_ahead`: the page is gathered, not taken
                first = False
                yield rows, key


class Keyed:
    """The scope's pages by ranges with their memo keys (`_ranged`, those the memo lacks parsed), the
    first already read: `warm`, whether the memo holds it (then the pages are read in this process).
    The loop takes that first page from here, not from a second read of its range (on the 10 M store
    a first replay from a prepared checkpoint reads two or three pages)."""

    def __init__(self, pages: Generator[tuple[PageRows, str | None], None, None],
                 memo: page_memo.Memo) -> None:
        self._pages = pages
        self._first = next(pages, None)
        self._from_first = self._chained()  # started only when iterated
        key = None if self._first is None else self._first[1]
        self.warm = key is not None and memo.holds(key)

    def __iter__(self) -> Iterator[tuple[PageRows, str | None]]:
        return self._from_first

    def _chained(self) -> Generator[tuple[PageRows, str | None], None, None]:
        first, self._first = self._first, None
        if first is not None:
            yield first
        yield from self._pages

    def close(self) -> None:
        """Stop the reads (after the loop's reading thread has stopped: `pages.prefetched` joins it);
        closing again does nothing. The first page goes too (a reader process reads it again)."""
        self._first = None
        self._from_first.close()
        self._pages.close()


def _warm(store: SqlStore, scope: Scope, memo: page_memo.Memo, span: int, after: int = 0,
          lines: bool = True) -> Keyed:
    """The scope's keyed pages from `after`, the first read, and whether the memo holds it."""
    return Keyed(_ranged(store, scope, span, memo, after, parse=True, lines=lines), memo)


def _memo_loop(g: Gather, snap: fast.Counted, digest: Any, take: Take, memo: page_memo.Memo, keyed: Keyed,
               muni: str | None) -> None:
    """The page loop with a memo: each page taken from it, else gathered with codes of its own and kept."""
    fold = g.fold
    targets = frozenset(UUID(t) for t in fold.targets)
    own = Gather(rawfold.RawFold(bundle.compact(targets), fold.projections, targets))
    own.check_ids = True
    codes, how = local_page.Codes(), hashing(digest)
    for n, (rows, key) in enumerate(prefetched(iter(keyed)), start=1):
        found = page_memo.gathered(memo, key, own, rows, muni, how)
        if found is None:  # Arrow cannot read it as expected: with Python
            fold_page(g, rows, muni, snap, digest, take, columns=False)
            continue
        local, taken = found
        g.paths["memo" if taken else "columns"] += 1
        items = decode_slow(rows, local.slow, local.excluded, None, muni)
        hashed = hashed_page(rows, local.excluded, how, local.digests)
        local_page.fold_local(g, codes, local, items, hashed, snap, digest, take)
        if n % TRIM_EVERY == 0:
            release_free_memory()
