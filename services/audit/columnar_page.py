"""One page of the columnar replay folded: gathered (on columns, with Python, or row by row), hashed,
reduced into the accumulators.

Shared by the one-process loop (`columnar_loop`) and the reader processes' folding side (`parallel`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import numpy as np
import orjson

from projections import intake
from services.audit import fast, manifest_block, vector
from services.audit.columnar import Gather, Page, Take, gather
from services.audit.digest import sha256_hex
from services.audit.page_rows import PageRows
from services.audit.source import Stored, canonical_id, decoded, utc


def fold_page(g: Gather, rows: PageRows, muni: str | None, snap: fast.Counted, digest: Any,
              take: Take, *, columns: bool = True) -> None:
    """One page: gathered on whole columns (unless `columns` is False), else with Python, else row by row."""
    cc = g.fold.state.care_costs
    values: list[Any] | None = None
    gathered = vector.gather(g, rows, snap, muni, cc.arrivals) if columns else None
    if gathered is None:
        try:
            values = [orjson.loads(raw) for raw in rows.payloads()]
        except orjson.JSONDecodeError:
            g.paths["rows"] += 1
            fast.fold_rows(fast.converted(rows), muni, snap, g.fold, digest, lambda item: take(item, False))
            return
        gathered = gather(g, list(rows), values, snap, muni, cc.arrivals)  # tuples: read one by one
    g.paths["columns" if values is None else "python"] += 1
    page, slow, excluded = gathered
    items = decode_slow(rows, slow, excluded, values, muni)
    add_hashed(digest, hashed_page(rows, excluded, hashing(digest)))
    settle(g, page, items, take)


def decode_slow(rows: PageRows, slow: list[int], excluded: list[bool], values: list[Any] | None,
                muni: str | None) -> list[Stored]:
    """The rows the gather left, decoded (marking as excluded those of another municipality)."""
    items = []
    for idx in slow:
        pos, eid, appended, raw = rows[idx]
        value = values[idx] if values is not None else None
        item = decoded(pos, canonical_id(eid), utc(appended), raw, value)
        if muni is not None and item.event is not None and item.event.municipality != muni:
            excluded[idx] = True
        else:
            items.append(item)
    return items


def settle(g: Gather, page: Any, items: list[Stored], take: Take) -> None:
    """Reduce a gathered page into the accumulators, then apply the decoded rest in position order."""
    g.fold.state.care_costs.arrivals += page.care
    g.used = True
    reduce(g, page, g.fold.state)
    for item in items:
        take(item, True)


def hashing(digest: Any) -> str:
    """How a page is hashed for `digest`: "block" (the events hash only), "lines" (and the manifest
    lines, made a page at a time), "listed" (each event's id and SHA-256, for a per-event callback)."""
    if digest.on_event is not None:
        return "listed"
    return "lines" if digest.listed else "block"


def hashed_page(rows: PageRows, excluded: list[bool], how: str,
                digested: bytes | None = None) -> tuple[Any, ...]:
    """What the digest needs of a page's included rows, `how` it hashes (see `hashing`); made here or
    in a reader process (`services.audit.reader`), taken by `add_hashed`. `digested`: the payloads'
    SHA-256 already taken (`manifest_block.digests`, kept by the page memo)."""
    if any(excluded):
        return ("rows", [(r[0], canonical_id(r[1]), r[3]) for r, out in zip(rows, excluded, strict=True)
                         if not out])
    first, last = int(rows.positions[0]), int(rows.positions[-1])
    if how == "block":
        return ("block", first, last, len(rows), rows.lines)
    if how == "lines":
        digested = digested if digested is not None else manifest_block.digests(rows.payloads())
        made = manifest_block.lines(rows.positions, rows.ids, None, digested=digested)
        if made is not None:
            return ("lines", first, last, len(rows), rows.lines, made)
    # ids of another form (PostgreSQL's uuids), or a per-event callback: each event's id and SHA-256
    shas = ([digested[i:i + 32].hex() for i in range(0, len(digested), 32)] if digested is not None
            else [sha256_hex(p) for p in rows.payloads()])  # taken once, also when the lines were not made
    return ("listed", rows.positions.tolist(), [canonical_id(i) for i in rows.id_list()], shas, rows.lines)


def add_hashed(digest: Any, hashed: tuple[Any, ...]) -> None:
    """A page's rows into the digest, in position order (one call unless some rows are excluded)."""
    kind = hashed[0]
    if kind == "block":
        digest.add_block(*hashed[1:])  # refuses a digest that lists events
    elif kind == "lines":
        digest.add_lines(*hashed[1:])  # refuses a digest without a list or with a callback
    elif kind == "listed":
        digest.add_listed(*hashed[1:])
    else:
        for position, event_id, raw in hashed[1]:
            digest.add(position, event_id, raw)


_S = ("rec", "pos", "arr", "day", "attr", "person", "price")
_R = ("rec", "pos", "arr", "day", "price")
_E = ("rec", "pos", "arr", "day")


def _ints(names: tuple[str, ...], lists: list[list[int]]) -> dict[str, Any]:
    return {name: np.array(values, dtype=np.int64) for name, values in zip(names, lists, strict=True)}


def reduce(g: Gather, page: Page, state: Any) -> None:
    """Fold a gathered page into the accumulators and the intake counts."""
    size = len(g.pids)
    if len(page.s[0]):
        g.placements.start.reduce(np.array(page.s[0], dtype=np.int64), _ints(_S, page.s[1:]), size)
    if len(page.r[0]):
        g.placements.repriced(np.array(page.r[0], dtype=np.int64), _ints(_R, page.r[1:]), size)
    if len(page.e[0]):
        g.placements.end.reduce(np.array(page.e[0], dtype=np.int64), _ints(_E, page.e[1:]), size)
    size = len(g.invs)
    if len(page.o[0]):
        code, day, hi, lo, group, person = page.o
        g.investigations.opened(_i64(code), _i64(day), _u64(hi), _u64(lo), _i64(group), _i64(person), size)
    if len(page.c[0]):
        code, day, hi, lo = page.c
        g.investigations.closed(_i64(code), _i64(day), _u64(hi), _u64(lo), size)
    for (ordinal, cell), n in [*Counter(page.cells).items(), *page.counts]:
        intake.permanent(state.intake, date.fromordinal(ordinal), cell, n)


def _i64(values: Any) -> Any:
    return np.asarray(values, dtype=np.int64)


def _u64(values: Any) -> Any:
    return np.asarray(values, dtype=np.uint64)
