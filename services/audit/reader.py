"""A reader process of the columnar replay (`python -m services.audit.reader`, started by `parallel`).

Its task comes as a pickle on stdin: the store's URL, the scope, the retraction targets, the
projections, how pages are hashed, its position ranges, the page memo's folder and whether to take the
store's parsed lines (`services.store.parsed`). For each range it reads the page, gathers
it on whole columns (`vector.gather`) with codes of the page's own (so it keeps nothing that grows
with the history), and writes one pickle to stdout: the page's columns, the values it saw first
(placement and utredning ids, attribute tuples, prices, persons), the events it left, its counts and
what the events hash (and manifest) needs. A page Arrow cannot read is sent as its rows. An error is
sent as ("error", text) before the process fails.
"""

from __future__ import annotations

import gc
import pickle
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pyarrow as pa
from sqlalchemy import create_engine

from projections import bundle
from services.audit import columnar_page, page_memo, pages
from services.audit.columnar import Gather
from services.audit.page_rows import PageRows
from services.audit.rawfold import RawFold
from services.audit.source import Scope, canonical_id, decoded, utc


def _page(g: Gather, rows: PageRows, muni: str | None, how: str, memo: page_memo.Memo | None) -> Any:
    """What a reader sends for one page (`how`: how the events are hashed, `columnar_page.hashing`)."""
    found = page_memo.gathered(memo, memo.key(rows) if memo is not None else None, g, rows, muni, how)
    if found is None:
        return ("rows", rows)
    local, taken = found
    keep = []
    for idx in local.slow:
        pos, eid, appended, raw = row = rows[idx]
        item = decoded(pos, canonical_id(eid), utc(appended), raw)
        if muni is not None and item.event is not None and item.event.municipality != muni:
            local.excluded[idx] = True
        else:
            keep.append(row)
    return ("page", local, keep, columnar_page.hashed_page(rows, local.excluded, how, local.digests), taken)


def _reader(url: str, scope: Scope, targets: list[str], projections: list[str], how: str,
            ranges: list[tuple[int, int]], memo_dir: Path | None, out: Any, lines: bool = True) -> None:
    """A reader process: gather its ranges' pages and write them to `out`, in order, one pickle each."""
    gc.disable()  # as in the folding process: acyclic values by the million
    pa.set_memory_pool(pa.system_memory_pool())  # as in the folding process (`columnar_loop`)
    engine = create_engine(url)
    source = pages.Reader(engine, lines=lines)
    ids = frozenset(UUID(t) for t in targets)
    g = Gather(RawFold(bundle.compact(ids), projections, ids))
    memo = None
    if memo_dir is not None:
        g.check_ids = True
        memo = page_memo.Memo(memo_dir, scope.municipality, projections, ids)
    try:
        for lo, hi in ranges:
            rows = pages.page_between(source, scope, lo, hi)
            message = _page(g, rows, scope.municipality, how, memo) if len(rows) else ("empty",)
            pickle.dump(message, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except BaseException as exc:  # reported to the folding process, which raises it
        pickle.dump(("error", repr(exc)), out)
        out.flush()
        raise
    finally:
        source.close()
        engine.dispose()


def main() -> None:
    """`python -m services.audit.reader`: a reader, its task a pickle on stdin, its pages on stdout."""
    url, scope, targets, projections, how, ranges, memo_dir, lines = pickle.load(sys.stdin.buffer)
    _reader(url, scope, targets, projections, how, ranges, memo_dir, sys.stdout.buffer, lines)


if __name__ == "__main__":
    main()
