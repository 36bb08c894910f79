"""Logguppföljning: the monthly review of the access log, per user, with flags for a controller to follow up.

Read off the month's `access.viewed` events (stream `access:<YYYY-MM>`), one row per subject:

* **Antal visningar** — the user's logged views in the month (views of unit-level or case-level figures,
  raw report runs, views of the log review itself; municipality-wide pages are not logged);
* **Visningar på enhetsnivå** — of those, views of figures per own unit (`level` = unit);
* **Uttag med råa siffror** — runs of `casestream report` (unprotected figures, `level` = raw);
* **Antal olika enheter** — distinct units viewed one by one (a view of all units names none);
* **Visningar utanför kontorstid** — views outside office hours: kontorstid is Monday–Friday
  07:00–18:00 Europe/Stockholm (a view at 18:00 or later, before 07:00, or on a Saturday or Sunday
  is outside; public holidays are not known here and count as weekdays);
* **Första / Senaste visning** — the first and last view, Stockholm time;
* **Flaggor** — *utanför kontorstid* (any view outside office hours), *många enheter* (more distinct
  units than `access_review_many_units`), *råa uttag* (any raw report run).

The Totalt row sums the counts, counts the distinct units over all users and spans the first to the
last view. Rows come ordered by subject, so the report is the same for the same events.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Final

from events.access import AccessViewed
from events.envelope import Event
from events.timeutil import STOCKHOLM, Month, as_aware
from projections.reports.base import Column, Report

OFFICE_OPENS: Final = time(7, 0)
OFFICE_CLOSES: Final = time(18, 0)
NAME: Final = "logguppfoljning"

COLUMNS: Final = (
    Column("subject", "Användare (subjekt)", "text"),
    Column("roles", "Roll", "text"),
    Column("views", "Antal visningar", "int"),
    Column("unit_views", "Visningar på enhetsnivå", "int"),
    Column("raw_views", "Uttag med råa siffror", "int"),
    Column("distinct_units", "Antal olika enheter", "int"),
    Column("outside_office_hours", "Visningar utanför kontorstid", "int"),
    Column("first_view", "Första visning", "text"),
    Column("last_view", "Senaste visning", "text"),
    Column("flags", "Flaggor", "text"),
    Column("row_type", "Radtyp", "text"),
)


def parse_month(text: str) -> Month:
    """`YYYY-MM` as a month; a clear error naming the value otherwise."""
    match = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise ValueError(f"--month: {text!r} is not a month; write YYYY-MM, e.g. 2021-04")
    return Month(int(match.group(1)), int(match.group(2)))


def outside_office_hours(instant: datetime) -> bool:
    """True outside Monday–Friday 07:00–18:00 Stockholm time."""
    local = as_aware(instant).astimezone(STOCKHOLM)
    return local.weekday() >= 5 or not OFFICE_OPENS <= local.time() < OFFICE_CLOSES


def _shown(instant: datetime | None) -> str | None:
    return None if instant is None else as_aware(instant).astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M")


@dataclass(slots=True)
class _User:
    roles: set[str] = field(default_factory=set)
    views: int = 0
    unit_views: int = 0
    raw_views: int = 0
    units: set[str] = field(default_factory=set)
    outside: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def add(self, data: AccessViewed, at: datetime) -> None:
        self.roles.add(data.role)
        self.views += 1
        self.unit_views += data.level == "unit"
        self.raw_views += data.level == "raw"
        if data.unit_id is not None:
            self.units.add(data.unit_id)
        self.outside += outside_office_hours(at)
        self.first = at if self.first is None or at < self.first else self.first
        self.last = at if self.last is None or at > self.last else self.last

    def flags(self, many_units: int) -> str:
        found = [("utanför kontorstid", self.outside > 0), ("många enheter", len(self.units) > many_units),
                 ("råa uttag", self.raw_views > 0)]
        return ", ".join(name for name, on in found if on)

    def row(self, subject: str, many_units: int, row_type: str) -> dict[str, object]:
        return {"subject": subject, "roles": ", ".join(sorted(self.roles)), "views": self.views,
                "unit_views": self.unit_views, "raw_views": self.raw_views, "distinct_units": len(self.units),
                "outside_office_hours": self.outside, "first_view": _shown(self.first),
                "last_view": _shown(self.last),
                "flags": self.flags(many_units) if row_type == "detail" else "", "row_type": row_type}


def _in_month(event: Event, month: Month) -> bool:
    local = as_aware(event.occurred_at).astimezone(STOCKHOLM)
    return (local.year, local.month) == (month.year, month.month)


def log_review(events: Iterable[Event], month: Month, *, many_units: int) -> Report:
    """The month's log review: one row per subject (ordered), then Totalt."""
    users: dict[str, _User] = {}
    total = _User()
    for event in events:
        if not isinstance(event.data, AccessViewed) or not _in_month(event, month):
            continue
        at = as_aware(event.occurred_at)
        users.setdefault(event.data.subject, _User()).add(event.data, at)
        total.add(event.data, at)
    rows = [users[s].row(s, many_units, "detail") for s in sorted(users)]
    totals = total.row("Totalt", many_units, "total")
    totals["roles"] = ""
    label = f"{month.year:04d}-{month.month:02d}"
    flagged = sum(1 for r in rows if r["flags"])
    notes = [f"Kontorstid: måndag–fredag 07–18 (Europe/Stockholm). {flagged} av {len(rows)} användare "
             f"flaggade. Många enheter: fler än {many_units}."]
    return Report(NAME, f"Logguppföljning {label}", COLUMNS, [*rows, totals], notes)
