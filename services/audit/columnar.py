"""The columnar replay's state across pages (`Gather`) and its Python reading of a page (`gather`).

`Gather` keeps what the pages share: the codes of placement and utredning ids, attribute tuples and
prices (numbered in the order first seen), the persons, the conversion caches and the numpy
accumulators (`services.audit.columns`, `columns_inv`); `finish` writes them into the compact states.
`gather` reads the events of a page the raw fold accepts (`rawfold.RawFold.accepts`: latest version
of a common type, no unknown key, no retraction target) from their parsed JSON with the raw fold's
conversions into the page's plain lists (`Page`), and leaves the rest, by index, to be decoded. It is
the path for a page Arrow's reader refuses (`services.audit.vector` is the usual one); the loop over
pages is `services.audit.columnar_loop`, a page's fold `services.audit.columnar_page`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, Final

from projections.placement_compact import NONE, Attrs, micros
from services.audit import fast, rawfold
from services.audit.columns import Placements, Texts
from services.audit.columns_inv import GROUPS, Investigations, recount
from services.audit.source import Stored, utc
from services.audit.trusted import decimal, recorded_time

_KINDS: Final = ("placement.started", "placement.repriced", "placement.ended", "case.actualised",
                 "investigation.opened", "investigation.closed")
_GROUP: Final = {g: i for i, g in enumerate(GROUPS)}
Take = Callable[[Stored, bool], None]


class Gather:
    """What the columnar loop keeps across pages: codes, value tables, caches and the accumulators."""

    def __init__(self, fold: rawfold.RawFold) -> None:
        self.fold = fold
        self.kinds = {t: i for i, t in enumerate(_KINDS) if t in fold.handlers}
        self.chosen = [fold.chosen[t] for t in _KINDS]  # else read and converted, but only counted
        self.versions = [fold.versions.get(t) for t in _KINDS]
        self.keys = [rawfold._KEYS[t] for t in _KINDS]
        self.pids: dict[str, int] = {}
        self.invs: dict[str, int] = {}
        self.attrs: dict[Attrs, int] = {}
        self.prices: dict[tuple[Any, Any, Any], int] = {}  # (price JSON value and its type, unit) -> code
        self.price_values: list[Any] = []
        self.persons = Texts()
        self.inv_persons = Texts()
        self.recs: dict[Any, int] = {}
        self.ordinals: dict[Any, int] = {}
        self.appended: dict[Any, int] = {}
        self.placements = Placements()
        self.investigations = Investigations()
        self.used = False
        self.check_ids = False  # set for a page memo's gather: tell whether payload and stored ids agree
        self.last_ids_agree = True  # (for the last page gathered, when `check_ids`)
        self.paths: Counter[str] = Counter()  # pages read on whole columns / with Python / row by row

    def rec(self, value: Any) -> int:
        """A recorded_at JSON value as µs (NONE for None), as the raw fold converts it."""
        return _memo(self.recs, 50_000, value, lambda v: micros(recorded_time(v)))

    def ordinal(self, value: Any) -> int:
        """The business day (its ordinal) of an occurred_at JSON value, as `Event.business_date`."""
        return _memo(self.ordinals, 100_000, value, lambda v: rawfold.business_day(v).toordinal())

    def appended_us(self, value: Any) -> int:
        """An appended_at column value as µs since 1970 UTC."""
        return _memo(self.appended, 100_000, value, lambda v: micros(utc(v)))

    def price(self, value: Any, unit: Any) -> int:
        key = (value, type(value), unit)
        code = self.prices.get(key)
        if code is None:
            money = decimal(value)  # raises before anything is kept
            code = self.prices[key] = len(self.price_values)
            self.price_values.append((money, unit))
        return code

    def finish(self, state: Any) -> None:
        """Write the accumulated rows into the compact states and recount the investigations."""
        if not self.used:
            return
        self.placements.into(state.care_costs.compact, self.pids, list(self.attrs), self.price_values,
                             self.persons)
        state.care_costs.cache.clear()
        state.care_costs.near.clear()
        self.investigations.into(state.investigations.compact, self.invs, self.inv_persons)
        recount(state.investigations)


def _memo(cache: dict[Any, int], bound: int, value: Any, convert: Callable[[Any], int]) -> int:
    """`convert(value)`, remembered in `cache` (emptied when it holds `bound` values)."""
    out = cache.get(value)
    if out is None:
        out = convert(value)
        if len(cache) >= bound:
            cache.clear()
        cache[value] = out
    return out


def _code(table: dict[str, int], key: str) -> int:
    code = table.get(key)
    if code is None:
        code = table[key] = len(table)
    return code


class Page:
    """One page's columns: plain lists per event kind, then reduced into the accumulators."""

    def __init__(self) -> None:
        self.s: list[Any] = [[] for _ in range(8)]  # code rec pos arr day attr person price
        self.r: list[Any] = [[] for _ in range(6)]  # code rec pos arr day price
        self.e: list[Any] = [[] for _ in range(5)]  # code rec pos arr day
        self.o: list[Any] = [[] for _ in range(6)]  # code day id-high id-low group person
        self.c: list[Any] = [[] for _ in range(4)]  # code day id-high id-low
        self.cells: list[tuple[int, Any]] = []  # (day, cell) per aktualisering
        self.counts: list[tuple[tuple[int, Any], int]] = []  # or already counted
        self.care = 0  # care-cost events gathered (their arrival numbers follow the state's)


_ENV: Final = rawfold._ENVELOPE


def gather(g: Gather, rows: list[tuple[Any, ...]], values: list[Any], snap: fast.Counted, muni: str | None,
           base: int) -> tuple[Page, list[int], list[bool]]:
    """Read the accepted events of a page into its columns; the indices of the rest; which are excluded.

    One flat loop with local names: this is the per-event Python of the replay (measured ~4 µs here).
    """
    page, slow, excluded = Page(), [], [False] * len(rows)
    kinds, versions, keys, targets = g.kinds, g.versions, g.keys, g.fold.targets
    recs, apps, ordinals = g.recs, g.appended, g.ordinals
    pids, invs, attrs, group_of = g.pids, g.invs, g.attrs, _GROUP
    s_code, s_rec, s_pos, s_arr, s_day, s_attr, s_person, s_price = page.s
    r_code, r_rec, r_pos, r_arr, r_day, r_price = page.r
    e_code, e_rec, e_pos, e_arr, e_day = page.e
    o_code, o_day, o_hi, o_lo, o_group, o_person = page.o
    c_code, c_day, c_hi, c_lo = page.c
    cells, persons, inv_persons, chosen = page.cells, g.persons, g.inv_persons, g.chosen
    care, events, back, seen, last = base, 0, 0, set(), 0
    for idx, v in enumerate(values):
        t = v.get("type") if type(v) is dict else None
        k = kinds.get(t, -1) if type(t) is str else -1
        if k >= 0:
            d, eid, m = v.get("data"), v.get("event_id"), v.get("municipality")
            if not (v.get("version") == versions[k] and type(d) is dict and type(eid) is str
                    and len(eid) == 36 and type(m) is str and eid == eid.lower() and eid not in targets
                    and v.keys() <= _ENV and d.keys() <= keys[k]):
                k = -1
        if k < 0:
            slow.append(idx)
            continue
        if muni is not None and m != muni:
            excluded[idx] = True
            continue
        row = rows[idx]
        try:
            text = v.get("recorded_at")
            rec = recs.get(text)
            if rec is None:
                rec = g.rec(text)
            text = v["occurred_at"]
            day = ordinals.get(text)
            if day is None:
                day = g.ordinal(text)
            if k <= 2:
                pid = d["placement_id"]
                if type(pid) is not str:
                    raise TypeError("placement_id")
                if k == 0:
                    key = (d["category"], d["target_group"], d["regime"], d.get("unit_id"), d["legal_basis"],
                           d.get("sex", "unknown"))
                    person, price = d["person"], g.price(d["price_sek"], d["price_unit"])
                    if type(person) is not str:
                        raise TypeError("person")
                    if chosen[0]:
                        attr = attrs.get(key)
                        if attr is None:
                            attr = attrs[key] = len(attrs)
                        person_index = persons.add(person)
                        s_attr.append(attr)
                        s_person.append(person_index)
                        s_price.append(price)
                        s_rec.append(rec)
                        s_pos.append(row[0])
                        s_arr.append(care)
                        s_day.append(day)
                        s_code.append(_code(pids, pid))
                elif k == 1:
                    price = g.price(d["price_sek"], d["price_unit"])
                    if chosen[1]:
                        r_price.append(price)
                        r_rec.append(rec)
                        r_pos.append(row[0])
                        r_arr.append(care)
                        r_day.append(day)
                        r_code.append(_code(pids, pid))
                elif chosen[2]:
                    e_rec.append(rec)
                    e_pos.append(row[0])
                    e_arr.append(care)
                    e_day.append(day)
                    e_code.append(_code(pids, pid))
                care += chosen[k]
            elif k == 3:
                cell = (d["channel"], d["target_group"], d.get("sex", "unknown"))
                hash(cell)
                if chosen[3]:
                    cells.append((day, cell))
            else:
                inv = d["investigation_id"]
                if type(inv) is not str:
                    raise TypeError("investigation_id")
                high, low = divmod(int(eid.replace("-", ""), 16), 2**64)
                if k == 4:
                    group, person = group_of.get(d["target_group"]), d["person"]
                    if group is None or type(person) is not str:
                        raise TypeError("target_group or person")
                    if chosen[4]:
                        inv_person = inv_persons.add(person)
                        o_group.append(group)
                        o_person.append(inv_person)
                        o_day.append(day)
                        o_hi.append(high)
                        o_lo.append(low)
                        o_code.append(_code(invs, inv))
                elif chosen[5]:
                    c_day.append(day)
                    c_hi.append(high)
                    c_lo.append(low)
                    c_code.append(_code(invs, inv))
        except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
            slow.append(idx)  # nothing was appended yet: every lookup and conversion comes first
            continue
        seen.add(m)
        if rec != NONE:
            appended = apps.get(row[2])
            if appended is None:
                appended = g.appended_us(row[2])
            back += appended - rec > 86_400_000_000
        events += 1
        last = row[0]
    page.care = care - base
    snap.municipalities |= seen
    snap.back_registered += back
    state = g.fold.state
    state.events += events
    state.last_position = max(state.last_position, last)
    return page, slow, excluded
