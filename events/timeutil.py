"""Time rules (CONVENTIONS §1): local dates in Europe/Stockholm, inclusive periods."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

STOCKHOLM: Final = ZoneInfo("Europe/Stockholm")


def local_date(value: date | datetime) -> date:
    """The Stockholm calendar day of a date or datetime (naive datetimes are taken as Stockholm time)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.date()
        return value.astimezone(STOCKHOLM).date()
    return value


def as_aware(value: date | datetime) -> datetime:
    """A timezone-aware instant; a date means the start of that day in Stockholm, naive means Stockholm."""
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=STOCKHOLM)
    return datetime.combine(value, time.min, tzinfo=STOCKHOLM)


def end_of_day(day: date) -> datetime:
    """The last instant of a Stockholm day: "as known on 31 August" means recorded up to its end."""
    return datetime.combine(day + timedelta(days=1), time.min, tzinfo=STOCKHOLM) - timedelta(microseconds=1)


def to_utc(value: datetime) -> datetime:
    return as_aware(value).astimezone(UTC)


def days_in_month(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


@dataclass(frozen=True, slots=True, order=True)
class Month:
    year: int
    month: int

    @staticmethod
    def of(day: date) -> Month:
        return Month(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return date(self.year, self.month, days_in_month(self.year, self.month))

    @property
    def days(self) -> int:
        return days_in_month(self.year, self.month)

    def next(self) -> Month:
        return Month(self.year + 1, 1) if self.month == 12 else Month(self.year, self.month + 1)

    def prev(self) -> Month:
        return Month(self.year - 1, 12) if self.month == 1 else Month(self.year, self.month - 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Period:
    """An inclusive business period: `Period(2021-01-01, 2021-08-31)` has 243 days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def stop(self) -> date:
        """The first day after the period (exclusive bound)."""
        return self.end + _ONE_DAY

    def months(self) -> list[Month]:
        out: list[Month] = []
        m = Month.of(self.start)
        while m.first <= self.end:
            out.append(m)
            m = m.next()
        return out

    def month_part(self, month: Month) -> Period:
        """The part of this period inside a month (the month must overlap the period)."""
        return Period(max(self.start, month.first), min(self.end, month.last))

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @staticmethod
    def year(year: int) -> Period:
        return Period(date(year, 1, 1), date(year, 12, 31))

    @staticmethod
    def of_month(month: Month) -> Period:
        return Period(month.first, month.last)

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def overlap_days(start: date, stop: date | None, period: Period) -> int:
    """Days d with start <= d < stop (nights counted) inside the inclusive period; stop None = open."""
    lo = max(start, period.start)
    hi = period.stop if stop is None else min(stop, period.stop)
    return max(0, (hi - lo).days)
