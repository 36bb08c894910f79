"""A reader process of the columnar replay (`python -m services.audit.reader`, started by `parallel`).

Its task comes as a pickle on stdin: the store's URL, the scope, the retraction targets, the
projections, how pages are hashed and its position ranges. For each range it reads the page, gathers
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
from typing import Any
from uuid import UUID

from sqlalchemy import create_engine

from projections import bundle
from services.audit import columnar_page, pages, vector
from services.audit.columnar import Gather
from services.audit.page_rows import PageRows
from services.audit.rawfold import RawFold
from services.audit.source import Scope, canonical_id, decoded, utc


class _Counted:
    def __init__(self) -> None:
        self.municipalities: set[str] = set()
        self.back_registered = 0
        self.paths: dict[str, int] = {}


def _new(table: dict[Any, int], before: int) -> list[Any]:
    """The keys given codes since the table held `before` (codes are handed out in order)."""
    out = []
    for key in reversed(table):
        if table[key] < before:
            break
        out.append(key)
    return out[::-1]


def _sizes(g: Gather) -> tuple[int, ...]:
    return len(g.pids), len(g.invs), len(g.attrs), len(g.prices), len(g.persons), len(g.inv_persons)


def _page(g: Gather, counted: _Counted, rows: PageRows, muni: str | None, how: str) -> Any:
    """What a reader sends for one page (`how`: how the events are hashed, `columnar_page.hashing`)."""
    before, state = _sizes(g), g.fold.state
    events, back, munis = state.events, counted.back_registered, set(counted.municipalities)
    gathered = vector.gather(g, rows, counted, muni, 0)
    if gathered is None:
        return ("rows", rows)
    page, slow, excluded = gathered
    keep = []
    for idx in slow:
        pos, eid, appended, raw = row = rows[idx]
        item = decoded(pos, canonical_id(eid), utc(appended), raw)
        if muni is not None and item.event is not None and item.event.municipality != muni:
            excluded[idx] = True
        else:
            keep.append(row)
    new = (_new(g.pids, before[0]), _new(g.invs, before[1]), _new(g.attrs, before[2]),
           [(value, unit) for value, _, unit in _new(g.prices, before[3])],
           g.persons.raw(before[4]), g.inv_persons.raw(before[5]))
    hashed = columnar_page.hashed_page(rows, excluded, how)
    account = (state.events - events, state.last_position, counted.municipalities - munis,
               counted.back_registered - back)
    for table in (g.pids, g.invs, g.attrs, g.prices, g.price_values, g.persons, g.inv_persons):
        table.clear()  # codes are the page's own: a reader keeps no table that grows with the history
    return ("page", page, keep, new, before[4:], hashed, account)


def _reader(url: str, scope: Scope, targets: list[str], projections: list[str], how: str,
            ranges: list[tuple[int, int]], out: Any) -> None:
    """A reader process: gather its ranges' pages and write them to `out`, in order, one pickle each."""
    gc.disable()  # as in the folding process: acyclic values by the million
    engine = create_engine(url)
    source = pages.Reader(engine)
    fold = RawFold(bundle.compact(frozenset(UUID(t) for t in targets)), projections,
                   frozenset(UUID(t) for t in targets))
    g, counted = Gather(fold), _Counted()
    try:
        for lo, hi in ranges:
            rows = pages.page_between(source, scope, lo, hi)
            message = _page(g, counted, rows, scope.municipality, how) if len(rows) else ("empty",)
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
    url, scope, targets, projections, how, ranges = pickle.load(sys.stdin.buffer)
    _reader(url, scope, targets, projections, how, ranges, sys.stdout.buffer)


if __name__ == "__main__":
    main()
