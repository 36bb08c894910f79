"""A page gathered with codes of its own (`Local`), and such a page folded into the replay's state.

A reader process (`services.audit.reader`) gathers each page on whole columns with codes of the
page's own, so that it keeps nothing that grows with the history; the page memo
(`services.audit.page_memo`) keeps such a page under the SHA-256 of the rows it was made from. Either
way the folding process maps the page's codes to its own (`fold_local`: in the order the values
were first seen, so codes are numbered exactly as one process numbers them), gives the care-cost
events their arrival numbers, hashes the rows in position order and reduces the columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from services.audit import columnar_page, manifest_block, vector
from services.audit.columnar import Gather, Page, Take
from services.audit.page_rows import PageRows
from services.audit.source import Stored


class Counted:
    """What a page's gather counts beside the fold state (`fast.Counted`'s fields)."""

    def __init__(self) -> None:
        self.municipalities: set[str] = set()
        self.back_registered = 0


@dataclass(slots=True)
class Local:
    """A page gathered with codes of its own.

    `new`: the values in the order the page first saw them (placement and utredning ids, attribute
    tuples, (price, unit) pairs, persons and utredning persons as (bytes, lengths)); `account`: the
    events folded in columns, the last position among them, their municipalities, how many were
    registered back in time; `slow`: the rows left to the ordinary path; `excluded`: rows of another
    municipality; `ids_agree`: every payload's event id is its row's stored id; `digests`: the
    SHA-256 of every row's stored bytes, 32 bytes each, once a manifest needed them (`keep_digests`).
    """

    page: Page
    slow: list[int]
    excluded: list[bool]
    new: tuple[Any, ...]
    account: tuple[int, int, set[str], int]
    ids_agree: bool
    digests: bytes | None = None

    def keep_digests(self, rows: PageRows, how: str) -> bool:
        """Take the rows' SHA-256 when the digest writes manifest lines (`how`) and they are not kept
        yet: True when they were taken now (the page's memo entry is then written again)."""
        if how != "lines" or self.digests is not None:
            return False
        self.digests = manifest_block.digests(rows.payloads())
        return True


def gather_local(g: Gather, rows: PageRows, muni: str | None) -> Local | None:
    """Gather a page on whole columns, `g`'s codes emptied after it (None: Arrow cannot read it).

    What it finds depends on the page alone: `g` keeps its conversion caches across pages, never its
    codes or counts.
    """
    state, counted = g.fold.state, Counted()
    state.events, state.last_position = 0, 0
    g.last_ids_agree = True
    try:
        gathered = vector.gather(g, rows, counted, muni, 0)
        if gathered is None:
            return None
        page, slow, excluded = gathered
        new = (list(g.pids), list(g.invs), list(g.attrs),  # the tables hold this page's values alone,
               [(value, unit) for value, _, unit in g.prices],  # in the order their codes were given
               g.persons.raw(0), g.inv_persons.raw(0))
        account = (state.events, state.last_position, counted.municipalities, counted.back_registered)
        return Local(page, slow, excluded, new, account, g.last_ids_agree)
    finally:
        for table in (g.pids, g.invs, g.attrs, g.prices, g.price_values, g.persons, g.inv_persons):
            table.clear()


class Codes:
    """A page's codes mapped to the folding process's."""

    def __init__(self) -> None:
        self.pids: list[int] = []
        self.invs: list[int] = []
        self.attrs: list[int] = []
        self.prices: list[int] = []

    def learn(self, g: Gather, new: tuple[Any, ...]) -> tuple[int, int]:
        """Code the page's values (in the order the page first saw them); where its persons go here."""
        pids, invs, attrs, prices, persons, inv_persons = new
        self.pids = _coded(g.pids, pids)
        self.invs = _coded(g.invs, invs)
        self.attrs = _coded(g.attrs, attrs)
        self.prices = []
        self.prices += [g.price(value, unit) for value, unit in prices]
        return g.persons.extend_raw(*persons), g.inv_persons.extend_raw(*inv_persons)


def _coded(table: dict[Any, int], keys: list[Any]) -> list[int]:
    """Each key's code in `table`, a new key getting the next (the order codes are handed out in)."""
    add = table.setdefault
    return [add(key, len(table)) for key in keys]


def _mapped(lut: list[int], codes: Any) -> Any:
    return np.asarray(lut, dtype=np.int64)[np.asarray(codes, dtype=np.int64)] if len(codes) else codes


def _remap(page: Page, codes: Codes, base: int, persons_at: tuple[int, int]) -> None:
    """A local page in this process's codes, arrival numbers and person indices."""
    for cols in (page.s, page.r, page.e):
        if len(cols[0]):
            cols[0] = _mapped(codes.pids, cols[0])
            cols[3] = np.asarray(cols[3], dtype=np.int64) + base
    if len(page.s[0]):
        page.s[5] = _mapped(codes.attrs, page.s[5])
        page.s[6] = np.asarray(page.s[6], dtype=np.int64) + persons_at[0]
        page.s[7] = _mapped(codes.prices, page.s[7])
    if len(page.r[0]):
        page.r[5] = _mapped(codes.prices, page.r[5])
    if len(page.o[0]):
        page.o[0] = _mapped(codes.invs, page.o[0])
        page.o[5] = np.asarray(page.o[5], dtype=np.int64) + persons_at[1]
    if len(page.c[0]):
        page.c[0] = _mapped(codes.invs, page.c[0])


def fold_local(g: Gather, codes: Codes, local: Local, items: list[Stored], hashed: tuple[Any, ...],
               snap: Any, digest: Any, take: Take) -> None:
    """A local page into the state: its codes mapped, its rows hashed, its columns reduced, then the
    decoded `items` (the rows it left, of this scope) applied in position order."""
    at = codes.learn(g, local.new)
    _remap(local.page, codes, g.fold.state.care_costs.arrivals, at)
    columnar_page.add_hashed(digest, hashed)
    events, last, munis, back = local.account
    state = g.fold.state
    state.events += events
    state.last_position = max(state.last_position, last)
    snap.municipalities |= munis
    snap.back_registered += back
    columnar_page.settle(g, local.page, items, take)
