"""The UI's access queries (CONVENTIONS §7: the UI records views through a services function).

* `session_access(settings, user)` — who the session is and what it may see (`services.access_roles`),
  from the sign-in setting and `st.user` as a dict;
* `record_view(log, last, view)` — appends the view as an `access.viewed` event (`services.access_log`)
  unless it is the view this session recorded last (`View.key`: subject, role, page, unit, period,
  day), and returns the key to remember. Reruns, widget ticks and live refreshes of a fragment
  are the same view; a change of page, unit, period or day, or coming back to the page after another
  page that logs nothing (the UI then forgets the key), is a new one;
* `review_table(log, month, many_units)` — the month's logguppföljning as a table for the screen;
* `unit_choices(table)`, `only_unit(table, unit_id)` — the units of a Beläggning table, and the table
  narrowed to the one unit a view shows (and logs).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import cast

from events.access import Role
from events.timeutil import STOCKHOLM, Month
from services.access_log import AccessLog, View, open_access_log
from services.access_review import log_review
from services.access_roles import Access, resolve
from services.queries_view import TableView, view
from services.settings import Settings

__all__ = ["AccessLog", "AccessLogError", "View", "only_unit", "open_access_log", "recent_months",
           "record_view", "review_table", "session_access", "unit_choices"]

ViewKey = tuple[object, ...]


def session_access(settings: Settings, user: Mapping[str, object]) -> Access:
    return resolve(settings.auth_enabled, user, claim=settings.auth_role_claim,
                   mapping=settings.auth_role_map, role_when_off=cast(Role, settings.auth_role))


class AccessLogError(RuntimeError):
    """A view could not be appended to the access log (the page then shows none of its figures)."""


def record_view(log: AccessLog, last: ViewKey | None, seen: View) -> ViewKey:
    """Append `seen` unless it is the session's last recorded view; the key to remember either way."""
    key = seen.key()
    if key != last:
        try:
            log.record(seen)
        except Exception as exc:  # a store that refuses or cannot be reached: fail closed
            raise AccessLogError(f"{type(exc).__name__}: {exc}") from exc
    return key


def unit_choices(table: TableView) -> dict[str, str]:
    """unit_id -> name of the units a Beläggning table shows (its detail rows), in table order."""
    return {str(r["unit_id"]): str(r["unit"]) for r in table.rows
            if r.get("row_type") == "detail" and r.get("unit_id") is not None}


def only_unit(table: TableView, unit_id: str) -> TableView:
    """The table narrowed to one unit's row (what a view of that unit shows)."""
    return replace(table, rows=tuple(r for r in table.rows if r.get("unit_id") == unit_id))


def recent_months(now: datetime, count: int = 13) -> list[Month]:
    """This month (Stockholm) and the `count - 1` before it, newest first: the log review's choices."""
    local = now.astimezone(STOCKHOLM)
    index = local.year * 12 + local.month - 1
    return [Month((index - i) // 12, (index - i) % 12 + 1) for i in range(count)]


def review_table(log: AccessLog, month: Month, many_units: int) -> TableView:
    """The month's log review (`services.access_review`), laid out for the screen and downloads."""
    report = log_review(log.month(month), month, many_units=many_units)
    visible = tuple(c.key for c in report.columns if c.key != "row_type")
    return view(report, [{} for _ in report.rows], 1, visible)
