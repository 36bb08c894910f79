"""`columns_merge` leaves a full compact state as folding each kept row through its methods does.

The reference is the per-row merge the replay used before (`Columns.started`, `ended`, `repriced`, and
the further repricing days in day order), on random kept rows over a random state: some placements
new, some already kept with older or newer facts, repricings on the state's first day, on others, and
on several days. States are compared per placement id by value (attribute and price codes may be
numbered differently).
"""

from __future__ import annotations

import copy
import random
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from projections.investigation_compact import Columns as InvestigationColumns
from projections.investigations import Opening
from projections.placement_compact import NONE
from projections.placement_compact import Columns as PlacementColumns
from services.audit.columns import Placements, Texts, _grow
from services.audit.columns_inv import GROUPS, Investigations
from services.audit.columns_merge import merge, merge_investigations

ATTRS = [("institution", "children", "sol", f"unit-{i}", "sol", "female") for i in range(4)]
PRICES = [(Decimal(p), u) for p in ("1500", "2300.50", "980") for u in ("day", "month")]


def _order(rng: random.Random) -> tuple[int, int, int]:
    return rng.choice([10, 20, 30]) * 10**6, rng.randint(1, 4), rng.randint(0, 2)


def _state(rng: random.Random, pids: list[str]) -> PlacementColumns:
    cols = PlacementColumns(frozenset())
    for pid in pids:
        if rng.random() < 0.8:
            cols.started(pid, _order(rng), rng.randint(1, 5), rng.choice(ATTRS), f"p-{pid}-å",
                         *rng.choice(PRICES))
        if rng.random() < 0.4:
            cols.ended(pid, _order(rng), rng.randint(5, 9))
        for _ in range(rng.randint(0, 3)):
            cols.repriced(pid, _order(rng), rng.randint(1, 4), *rng.choice(PRICES))
    return cols


def _kept(rng: random.Random, n: int) -> tuple[Placements, Texts]:
    kept, persons = Placements(), Texts()
    for slot, kinds in ((kept.start, "start"), (kept.end, "end")):
        code = np.array(sorted(rng.sample(range(n), rng.randint(0, n))), dtype=np.int64)
        page: dict[str, Any] = {name: np.array([_order(rng)[i] for _ in code], dtype=np.int64)
                                for i, name in enumerate(("rec", "pos", "arr"))}
        page["day"] = np.array([rng.randint(1, 9) for _ in code], dtype=np.int64)
        if kinds == "start":
            page["attr"] = np.array([rng.randrange(len(ATTRS)) for _ in code], dtype=np.int64)
            page["person"] = np.array([persons.add(f"q-{c}-ö") for c in code.tolist()], dtype=np.int64)
            page["price"] = np.array([rng.randrange(len(PRICES)) for _ in code], dtype=np.int64)
        slot.reduce(code, page, n)
    code = np.array([rng.randrange(n) for _ in range(rng.randint(0, 2 * n))], dtype=np.int64)
    page = {name: np.array([_order(rng)[i] for _ in code], dtype=np.int64)
            for i, name in enumerate(("rec", "pos", "arr"))}
    page["day"] = np.array([rng.randint(1, 4) for _ in code], dtype=np.int64)
    page["price"] = np.array([rng.randrange(len(PRICES)) for _ in code], dtype=np.int64)
    kept.repriced(code, page, n)
    for slot in (kept.start, kept.end, kept.reprice):  # every code has its cells
        _grow(slot.cols, n, {"rec": NONE})
    return kept, persons


def _by_rows(kept: Placements, cols: PlacementColumns, pids: dict[str, int], persons: Texts) -> None:
    s, e, r = kept.start.cols, kept.end.cols, kept.reprice.cols

    def order(c: dict[str, Any], i: int) -> tuple[int, int, int]:
        return int(c["rec"][i]), int(c["pos"][i]), int(c["arr"][i])

    for pid, c in pids.items():
        if s["day"][c]:
            cols.started(pid, order(s, c), int(s["day"][c]), ATTRS[int(s["attr"][c])],
                         persons[int(s["person"][c])], *PRICES[int(s["price"][c])])
        if e["day"][c]:
            cols.ended(pid, order(e, c), int(e["day"][c]))
        if r["day"][c]:
            cols.repriced(pid, order(r, c), int(r["day"][c]), *PRICES[int(r["price"][c])])
        for day, (o, price) in sorted(kept.more.get(c, {}).items()):
            cols.repriced(pid, o, day, *PRICES[price])


def _facts(cols: PlacementColumns) -> dict[str, Any]:
    out = {}
    for pid, row in cols.index.items():
        st, en, rp = ([col[row] for col in slot] for slot in (cols.start, cols.end, cols.reprice))
        person = cols.persons[cols.person_at[st[5]]:cols.person_at[st[5] + 1]].decode() if st[3] else None
        out[pid] = (
            (st[:4], cols.attrs[st[4]], person, cols.prices[st[6]]) if st[3] else None,
            en if en[3] else None,
            (rp[:4], cols.prices[rp[4]]) if rp[3] else None,
            {day: (o, cols.prices[p]) for day, (o, p) in sorted(cols.more.get(row, {}).items())},
        )
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_merge_on_columns_gives_the_state_the_methods_give(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 40)
    names = [f"pl-{i}" for i in range(n + 10)]
    state = _state(rng, rng.sample(names, rng.randint(1, n + 10)))
    kept, persons = _kept(rng, n)
    pids = dict(zip(rng.sample(names, n), range(n), strict=True))
    want = copy.deepcopy(state)
    _by_rows(kept, want, pids, persons)
    merge(kept, state, pids, ATTRS, PRICES, persons)
    assert _facts(state) == _facts(want)
    assert list(state.index) == list(want.index)  # new placements numbered in the same order


def _inv_state(rng: random.Random, ids: list[str]) -> InvestigationColumns:
    cols = InvestigationColumns(frozenset())
    for inv in ids:
        if rng.random() < 0.8:
            cols.open(inv, _eid(rng), Opening(date.fromordinal(rng.randint(1, 5)), rng.choice(GROUPS),
                                              f"p-{inv}-å"))
        if rng.random() < 0.5:
            cols.close(inv, _eid(rng), date.fromordinal(rng.randint(3, 9)))
    return cols


def _eid(rng: random.Random) -> int:
    return rng.choice([1, 2, 3]) * 2**64 + rng.choice([5, 6, 2**63 + 1])


def _inv_facts(cols: InvestigationColumns) -> dict[str, Any]:
    out = {}
    for inv, row in cols.index.items():
        k = cols.person_of[row]
        person = cols.persons[cols.person_at[k]:cols.person_at[k + 1]].decode()
        person = person if cols.open_day[row] else None
        out[inv] = ((cols.open_day[row], cols.open_id[0][row], cols.open_id[1][row], cols.group[row], person)
                    if cols.open_day[row] else None,
                    (cols.close_day[row], cols.close_id[0][row], cols.close_id[1][row])
                    if cols.close_day[row] else None)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_the_utredning_merge_on_columns_gives_the_state_the_methods_give(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 40)
    names = [f"inv-{i}" for i in range(n + 10)]
    state = _inv_state(rng, rng.sample(names, rng.randint(1, n + 10)))
    kept, persons = Investigations(), Texts()
    for kind in ("open", "close"):
        code = np.array([rng.randrange(n) for _ in range(rng.randint(0, 2 * n))], dtype=np.int64)
        eids = [_eid(rng) for _ in code]
        day = np.array([rng.randint(1, 9) for _ in code], dtype=np.int64)
        hi = np.array([e >> 64 for e in eids], dtype=np.uint64)
        lo = np.array([e & (2**64 - 1) for e in eids], dtype=np.uint64)
        if kind == "open":
            group = np.array([rng.randrange(3) for _ in code], dtype=np.int64)
            person = np.array([persons.add(f"q-{c}-ö") for c in code.tolist()], dtype=np.int64)
            kept.opened(code, day, hi, lo, group, person, n)
        else:
            kept.closed(code, day, hi, lo, n)
    kept._grow(n)
    g = {name: values[:n] for name, values in kept.cols.items()}
    ids = dict(zip(rng.sample(names, n), range(n), strict=True))
    want = copy.deepcopy(state)
    for inv, c in ids.items():  # the per-row merge the replay used before
        if g["open_day"][c]:
            opening = Opening(date.fromordinal(int(g["open_day"][c])), GROUPS[int(g["group"][c])],
                              persons[int(g["person"][c])])
            want.open(inv, int(g["open_hi"][c]) * 2**64 + int(g["open_lo"][c]), opening)
        if g["close_day"][c]:
            want.close(inv, int(g["close_hi"][c]) * 2**64 + int(g["close_lo"][c]),
                       date.fromordinal(int(g["close_day"][c])))
    merge_investigations(state, ids, persons, g)
    assert _inv_facts(state) == _inv_facts(want)
    assert list(state.index) == list(want.index)
