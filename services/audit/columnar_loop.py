"""The page loop of the columnar replay: each page gathered on whole columns (Arrow), else with Python.

For each page of stored rows (`columnar.pages`): the stored bytes joined by newlines (exactly what
the events hash is over), then `vector.gather` reads them as columns; where Arrow cannot read the page
as expected, each payload is parsed with orjson and read by `columnar.gather`; where a payload does
not parse at all, the page goes through `fast.fold_rows` whole. The events the gather leaves are
decoded and applied the ordinary way, in position order, after the page's columns are reduced (the
two commute: see `services.audit.columnar`).
"""

from __future__ import annotations

import gc
from typing import Any

import orjson

from services.audit import fast, rawfold, vector
from services.audit.columnar import Gather, Take, gather, pages, prefetched, reduce
from services.audit.source import Scope, Stored, as_bytes, canonical_id, decoded, utc
from services.store.sql import SqlStore


def _digest(digest: Any, rows: list[tuple[Any, ...]], payloads: list[bytes], lines: bytes,
            excluded: list[bool]) -> None:
    """The included rows' bytes into the digest, in position order (one call when no manifest is kept)."""
    if not any(excluded):
        if not digest.listed and digest.on_event is None:
            digest.add_block(rows[0][0], rows[-1][0], len(rows), lines)
        else:
            digest.add_listed([r[0] for r in rows], [canonical_id(r[1]) for r in rows], payloads, lines)
        return
    for row, raw, out in zip(rows, payloads, excluded, strict=True):
        if not out:
            digest.add(row[0], canonical_id(row[1]), raw)


def run(store: SqlStore, scope: Scope, snap: fast.Counted, fold: rawfold.RawFold, digest: Any,
        take: Take, *, columns: bool = True) -> None:
    """Fold every included row: in columns where the raw fold accepts it, else `take(decoded, hashed)`.

    `columns=False` skips the Arrow gather (every page read with Python), for the tests that compare.
    """
    g, muni = Gather(fold), scope.municipality
    collecting = gc.isenabled()
    gc.disable()  # see the module docstring; restored below
    try:
        for rows in prefetched(pages(store, scope)):
            payloads = [r[3] if type(r[3]) is bytes else as_bytes(r[3]) for r in rows]
            lines = b"\n".join(payloads) + b"\n"
            cc = fold.state.care_costs
            values: list[Any] | None = None
            gathered = vector.gather(g, rows, lines, snap, muni, cc.arrivals) if columns else None
            g.paths["columns" if gathered is not None else "python"] += 1
            if gathered is None:
                try:
                    values = [orjson.loads(raw) for raw in payloads]
                except orjson.JSONDecodeError:
                    g.paths["python"] -= 1
                    g.paths["rows"] += 1
                    fast.fold_rows(fast.converted(rows), muni, snap, fold, digest,
                                   lambda item: take(item, False))
                    continue
                gathered = gather(g, rows, values, snap, muni, cc.arrivals)
            page, slow, excluded = gathered
            cc.arrivals += page.care
            g.used = True
            items: dict[int, Stored] = {}
            for idx in slow:
                pos, eid, appended, _ = rows[idx]
                value = values[idx] if values is not None else None
                item = decoded(pos, canonical_id(eid), utc(appended), payloads[idx], value)
                if muni is not None and item.event is not None and item.event.municipality != muni:
                    excluded[idx] = True
                else:
                    items[idx] = item
            _digest(digest, rows, payloads, lines, excluded)
            reduce(g, page, fold.state)
            for item in items.values():
                take(item, True)
        g.finish(fold.state)
        snap.paths = g.paths
    finally:
        if collecting:
            gc.enable()
