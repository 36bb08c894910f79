"""The command line's access logging: `casestream report` runs recorded as `access.viewed` events, and
`casestream report logguppfoljning --month YYYY-MM`.

A raw-figure report run (no small-cell protection, the controller's tool) is one event with level `raw`,
view `report:<name>`, channel `cli`, the business period and the `--known-at` day; a run of the log
review is one event with level `log`. The subject is `local:<login>` — the operating-system account
that ran the command on the server (there is no sign-in token on the command line); characters outside
the subject alphabet become `_`. The role is `controller` (only the controller runs reports).
"""

from __future__ import annotations

import getpass
import re
from datetime import datetime
from typing import Final

from events.timeutil import Period, local_date
from projections.reports.base import Report
from services.access_log import AccessLog, View
from services.access_review import NAME, log_review, parse_month
from services.settings import Settings
from services.store import EventStore

LOG_REVIEW: Final = NAME  # the report name on the command line: logguppfoljning


def cli_subject() -> str:
    """`local:<login>` of the account running the command (`local:unknown` without one)."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        login = "unknown"
    return "local:" + (re.sub(r"[^A-Za-z0-9_.:|/+=~-]", "_", login) or "unknown")


def record_report_run(store: EventStore, settings: Settings, name: str, period: Period,
                      known_at: datetime | None) -> None:
    """One `access.viewed` event for a raw-figure report run (CONVENTIONS §7)."""
    seen = View(cli_subject(), "controller", f"report:{name}", "raw", channel="cli", period=period,
                known_at=None if known_at is None else local_date(known_at))
    AccessLog(store, settings.access_municipality).record(seen)


def record_person_view(store: EventStore, settings: Settings) -> None:
    """One `access.viewed` event (level `case`) for a `casestream person show`: a person's personal part.

    The event says who and when, not whose part was read: the pseudonym is left out so that the log
    review (shown in the UI) never lists person ids.
    """
    AccessLog(store, settings.access_municipality).record(
        View(cli_subject(), "controller", "person:show", "case", channel="cli"))


def log_review_report(store: EventStore, settings: Settings, month_text: str | None) -> Report:
    """The month's logguppföljning; the run itself is logged. ValueError names a bad or missing --month."""
    if month_text is None:
        raise ValueError("--month is required for logguppfoljning (YYYY-MM)")
    month = parse_month(month_text)
    log = AccessLog(store, settings.access_municipality)
    report = log_review(log.month(month), month, many_units=settings.access_review_many_units)
    log.record(View(cli_subject(), "controller", LOG_REVIEW, "log", channel="cli"))
    return report
