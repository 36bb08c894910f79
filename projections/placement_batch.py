"""The batch path of a compact state's period figures: plain placements read on whole columns.

A replay's compact state (`projections.placement_compact`) keeps one row of columns per placement.
Reading a period's figures off it through `Placement` objects cost 20–40 µs a placement in Python
(resolving the row, the price segments, the covered span, the cost and the price in effect): the
reports of one municipality-year of a large history took seconds. Most rows are *plain*: no full
facts (no correction, no retraction target), at most one repricing day, and whole-krona day prices.
For those the figures are simple arithmetic on the columns, done here with numpy (STYLE: numpy only
for a batch path); every other row of the period is resolved to a `Placement` as before.

`split` gives both parts: `Plain` (the plain rows with a covered day in the period, on columns) and
the other placements, resolved exactly as `placement_compact.resolved` resolves them. Every figure
the reports read is a sum, a set union or a maximum over placements, so the two parts combine
exactly (`projections.care_costs`, `projections.occupancy`). The read-offs are those of
`placement_facts.Placement`, on columns:

* covered days [lo, hi) = [max(start, period start), min(departure, period stop));
* cost = initial price × days before the repricing day + new price × days from it (whole kronor);
* the price in effect on a day: the repricing's if its day is on or before it, else the initial one.

`tests/unit/test_placement_batch.py` requires the reports read both ways to be equal.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from uuid import UUID

import numpy as np
import numpy.typing as npt

from events.timeutil import Period
from events.vocabulary import PriceUnit
from projections.id_index import Ids
from projections.placement_compact import Attrs, Columns, resolved_one
from projections.placement_facts import Fact, Placement

Ints = npt.NDArray[np.int64]
_LIMIT = 10**9  # a whole day price beyond ±this (never a real one) is left to exact Python integers
_OPEN = date.max.toordinal() + 1  # no repricing / no departure, as a day after every day


@dataclass(frozen=True, slots=True)
class Plain:
    """Plain rows with at least one covered day in `period`, one element per row in every column."""

    period: Period
    attrs: list[Attrs]  # by code, the state's own list
    index: Ids  # placement_id -> compact row, the state's own index
    row: Ints  # compact row
    code: Ints  # attribute code
    person: Ints  # person number: equal numbers for equal person tokens (see `persons`)
    start: Ints  # start day (ordinal)
    stop: Ints  # departure day (ordinal), _OPEN when open
    lo: Ints  # first covered day (ordinal)
    hi: Ints  # the day after the last covered day (ordinal)
    reprice_day: Ints  # _OPEN without a repricing
    first_price: Ints  # whole SEK a day
    new_price: Ints  # whole SEK a day from reprice_day
    persons: Persons  # the person tokens by number

    def where(self, mask: npt.NDArray[np.bool_]) -> Plain:
        """The rows where `mask` holds."""
        return Plain(self.period, self.attrs, self.index, self.row[mask], self.code[mask], self.person[mask],
                     self.start[mask], self.stop[mask], self.lo[mask], self.hi[mask], self.reprice_day[mask],
                     self.first_price[mask], self.new_price[mask], self.persons)

    def within(self, part: Period) -> Plain:
        """These rows over a part of their period: covered days clipped to it, rows without one dropped."""
        lo = np.maximum(self.lo, part.start.toordinal())
        hi = np.minimum(self.hi, part.stop.toordinal())
        keep = lo < hi
        return replace(self.where(keep), period=part, lo=lo[keep], hi=hi[keep])

    def of_codes(self, codes: Iterable[int]) -> Plain:
        return self.where(np.isin(self.code, np.fromiter(codes, np.int64)))

    def codes(self) -> list[int]:
        """The attribute codes of these rows, each once, ascending."""
        return np.unique(self.code).tolist()  # type: ignore[no-any-return]

    def care_days(self) -> int:
        return int((self.hi - self.lo).sum())

    def cost(self) -> int:
        """Kostnad in whole SEK: each price × its covered days."""
        first = np.maximum(np.minimum(self.hi, self.reprice_day) - self.lo, 0)
        later = np.maximum(self.hi - np.maximum(self.lo, self.reprice_day), 0)
        # each product fits 64 bits (a price within _LIMIT, days within the calendar); their sum is
        # taken with Python's integers, which do not overflow
        return sum((self.first_price * first + self.new_price * later).tolist())

    def last_covered_day(self) -> date | None:
        return None if not len(self.hi) else date.fromordinal(int(self.hi.max()) - 1)

    def prices_on(self, day: date) -> list[int]:
        """The day prices in effect on `day` of the rows running that day (start <= day < departure)."""
        d = day.toordinal()
        running = (self.start <= d) & (d < self.stop)
        later = self.reprice_day[running] <= d
        return np.where(later, self.new_price[running], self.first_price[running]).tolist()  # type: ignore[no-any-return]

    def placement_ids(self) -> list[str]:
        """The rows' placement ids."""
        return self.index.ids_of(self.row)

    def person_tokens(self) -> list[str]:
        """The rows' person tokens."""
        token = [self.persons.token(n) for n in range(len(self.persons))]
        return [token[number] for number in self.person.tolist()]

    def distinct_persons(self, others: Iterable[str] = ()) -> int:
        """Distinct persons of these rows and of the `others` (person tokens of resolved placements)."""
        # a mask over the person numbers, not a sort (np.unique and np.isin per unit and month were
        # 0.13 s of a 10 M store's municipality-year reports)
        mine = np.zeros(len(self.persons), dtype=bool)
        mine[self.person] = True
        found = self.persons.number_of
        extra: set[int | str] = {person if (n := found(person)) is None else n for person in others}
        numbers = np.fromiter((x for x in extra if isinstance(x, int)), np.int64)
        return int(mine.sum()) + len(extra) - int(mine[numbers].sum())  # those among mine once


@dataclass(frozen=True, slots=True)
class Persons:
    """Person tokens numbered on whole columns: `keys[n]` is token n's UTF-8 bytes, zero-padded to
    `width` and followed by its length (8 bytes, so a token ending in zero bytes keeps its own key),
    sorted. Numbering 137 000 rows' tokens one by one in a dict took 0.3 s of a 10 M store's
    municipality-year report; here it is one sort."""

    keys: npt.NDArray[np.void]
    width: int

    @staticmethod
    def numbered(text: bytes, begin: Ints, length: Ints) -> tuple[Persons, Ints]:
        """The tokens `text[begin[i]:begin[i] + length[i]]` and each one's number."""
        n, width = len(begin), int(length.max()) if len(length) else 0
        grid = np.zeros((n, width + 8), dtype=np.uint8)
        if width:
            span = np.arange(width)
            inside = span[None, :] < length[:, None]
            where = np.where(inside, begin[:, None] + span[None, :], 0)
            grid[:, :width] = np.where(inside, np.frombuffer(text, dtype=np.uint8)[where], 0)
        grid[:, width:] = length.astype("<u8").view(np.uint8).reshape(n, 8)
        keys, numbers = np.unique(grid.view(np.dtype((np.void, width + 8))).ravel(), return_inverse=True)
        return Persons(keys, width), numbers.ravel().astype(np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def number_of(self, token: str) -> int | None:
        """The token's number (None: not among them)."""
        raw = token.encode()
        if len(raw) > self.width or not len(self.keys):
            return None
        key = np.frombuffer(raw.ljust(self.width, b"\0") + len(raw).to_bytes(8, "little"), self.keys.dtype)[0]
        at = int(np.searchsorted(self.keys, key))
        return at if at < len(self.keys) and self.keys[at] == key else None

    def token(self, number: int) -> str:
        raw: bytes = self.keys[number].tobytes()
        return raw[:int.from_bytes(raw[-8:], "little")].decode()


def split(cols: Columns, full: dict[str, dict[UUID, Fact]], retracted: set[UUID],
          period: Period) -> tuple[Plain, list[Placement]]:
    """The plain rows covering `period` on columns, and every other placement that may cover it."""
    first, last = period.start.toordinal(), period.end.toordinal()
    start, stop = _ints(cols.start[3]), _ints(cols.end[3])
    stop[stop == 0] = _OPEN
    near = (start != 0) & (start <= last) & (stop >= first)  # as `placement_compact._near`
    near[_rows(cols.index.get(pid) for pid in full)] = False
    first_code, reprice_code = _ints(cols.start[6]), _ints(cols.reprice[4])
    reprice_day = _ints(cols.reprice[3])
    reprice_day[reprice_day == 0] = _OPEN
    whole, value = _day_prices(cols.prices)
    plain = near & whole[first_code] & (whole[reprice_code] | (reprice_day == _OPEN))
    plain[_rows(cols.more)] = False
    other = np.flatnonzero(near & ~plain)
    rows = np.flatnonzero(plain)
    lo, hi = np.maximum(start[rows], first), np.minimum(stop[rows], last + 1)
    covered = lo < hi
    keep = rows[covered]
    persons, numbers = _person_numbers(cols, keep)
    out = Plain(period, cols.attrs, cols.index, keep, _ints(cols.start[4])[keep],
                numbers, start[keep], stop[keep], lo[covered], hi[covered],
                reprice_day[keep], value[first_code[keep]], value[reprice_code[keep]], persons)
    return out, list(_others(cols, full, retracted, other))


def _ints(column: array[int]) -> Ints:
    """A copy (the state's arrays must stay resizable: a view would pin them) as 64-bit integers."""
    return np.frombuffer(column, dtype=np.dtype(column.typecode)).astype(np.int64)


def _rows(rows: Iterable[int | None]) -> Ints:
    return np.fromiter((row for row in rows if row is not None), np.int64)


def _day_prices(prices: list[tuple[Decimal, PriceUnit]]) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Per price code: whether it is a whole-krona day price within the limit, and its value (else 0)."""
    whole = np.zeros(max(len(prices), 1), dtype=bool)  # a row without a price reads code 0
    value = np.zeros(max(len(prices), 1), dtype=np.int64)
    for code, (price, unit) in enumerate(prices):
        if unit == "day" and price == price.to_integral_value() and abs(price) <= _LIMIT:
            whole[code], value[code] = True, int(price)
    return whole, value


def _person_numbers(cols: Columns, rows: Ints) -> tuple[Persons, Ints]:
    """Number the rows' person tokens: equal tokens, equal numbers."""
    at = np.frombuffer(cols.person_at, dtype=np.dtype(cols.person_at.typecode)).astype(np.int64)
    codes = _ints(cols.start[5])[rows]
    return Persons.numbered(bytes(cols.persons), at[codes], at[codes + 1] - at[codes])


def _others(cols: Columns, full: dict[str, dict[UUID, Fact]], retracted: set[UUID],
            rows: Ints) -> Iterator[Placement]:
    """The placements of the rows given (none with full facts: `split` leaves those out), then those of
    full facts, resolved (None: not a placement). The rows are read as rows, not found again by id."""
    for pid, row in zip(cols.index.ids_of(rows), rows.tolist(), strict=True):
        placement = cols.placement(pid, row, [])
        if placement is not None:
            yield placement
    for pid in full:
        placement = resolved_one(cols, full, retracted, pid)
        if placement is not None:
            yield placement

