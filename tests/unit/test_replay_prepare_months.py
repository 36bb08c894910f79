"""Which month ends prepared checkpoints are made at (`services.audit.prepare.month_ends`, `chosen`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from events.timeutil import STOCKHOLM, end_of_day
from services.audit.prepare import chosen, month_ends


def ends(*days: str) -> list[datetime]:
    return [end_of_day(date.fromisoformat(d)) for d in days]


def test_month_ends_from_the_first_rows_month_to_the_last_before_the_bound() -> None:
    first = datetime(2020, 11, 30, 23, 30, tzinfo=UTC)  # 1 December in Stockholm
    assert month_ends(first, datetime(2021, 3, 31, 21, 59, tzinfo=UTC)) == ends(
        "2020-12-31", "2021-01-31", "2021-02-28")  # 31 March ends 21:59:59.999999 UTC (summer time)
    assert month_ends(first, end_of_day(date(2021, 3, 31)) + timedelta(microseconds=1))[-1] == \
        end_of_day(date(2021, 3, 31))
    assert month_ends(first, end_of_day(date(2020, 12, 31))) == []  # not yet passed
    leap = month_ends(datetime(2024, 2, 1, tzinfo=STOCKHOLM), datetime(2024, 3, 2, tzinfo=STOCKHOLM))
    assert leap == ends("2024-02-29")
    assert all(e.tzinfo == STOCKHOLM and e.hour == 23 and e.microsecond == 999999 for e in leap)


def test_every_month_end_or_tertial_ends_and_every_month_end_of_the_latest_months() -> None:
    year = ends(*(f"2022-{m:02d}-{d}" for m, d in ((1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30),
                                                    (7, 31), (8, 31), (9, 30), (10, 31), (11, 30), (12, 31))))
    two = ends("2021-04-30", "2021-08-31", "2021-12-31") + year
    assert chosen(year, 13) == year
    assert [e.month for e in chosen(two, 3)] == [4, 8, 12, 4, 8, 10, 11, 12]
    assert [e.month for e in chosen(two, 0)] == [4, 8, 12, 4, 8, 12]
    assert chosen([], 13) == [] and chosen([]) == []
    assert chosen(two) == chosen(two, len(two)) == two  # by default every month end
