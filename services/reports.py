"""Build the report tables of `casestream report` from the event store (or any folded bundle).

Two steps, so that a later read-model source can reuse the second one:

* `bundle_from_store(store, known_at)` folds every event the store holds, in position order, into
  one `projections.bundle.State` — only the events recorded by `known_at` when it is given
  ("as known at", CONVENTIONS §1);
* `report_from_bundle(bundle, name, period, settings)` calls the current KPI definition of the report
  (`projections/definitions.py`, over the pure builders of `projections/reports/`) for the business
  period. The forecast year is the year of the period's last day; the rolling 12-month means of
  intake and investigations start at the first month of the history
  (`projections.definitions.history_start`), so a window that reaches before the data has no value.

The report names are the CLI's: occupancy, external-purchases, intake, investigations, lvu-lvm,
budget, forecast. Columns of each: docs/reports.md.

`casestream report` prints raw figures (no small-cell protection) for the controller role, so every
run is logged (CONVENTIONS §7): `record_access` appends one JSON line per report to
`<var_dir>/access.jsonl` (who, when, which report, period, known-at, format, source and store).
"""

from __future__ import annotations

import getpass
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson

from events.timeutil import Period
from projections import bundle, definitions
from projections.reports.base import Report
from services.settings import Settings
from services.store.base import EventStore

REPORT_NAMES: Final = ("occupancy", "external-purchases", "intake", "investigations", "lvu-lvm", "budget",
                       "forecast")


class UnknownReport(ValueError):
    """A report name that is not one of `REPORT_NAMES` (the message lists the valid ones)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown report {name!r}; choose one of {', '.join(REPORT_NAMES)}")
        self.name = name


def bundle_from_store(store: EventStore, known_at: datetime | None = None) -> bundle.State:
    """Fold the whole store (as known at `known_at`, when given) into one bundle of projections."""
    return bundle.fold(store.read_all(known_at=known_at))


def params(settings: Settings) -> definitions.Params:
    """The settings that change figures, as the KPI definitions take them."""
    return definitions.Params(investigation_limit_days=settings.investigation_limit_days)


def report_from_bundle(state: bundle.State, name: str, period: Period, settings: Settings) -> Report:
    """The named report for a business period, read off a folded bundle, by its current KPI definition
    (`projections.definitions.CURRENT`: the version an audit proof records)."""
    if name not in definitions.CURRENT:
        raise UnknownReport(name)
    return definitions.build(state, name, definitions.CURRENT[name], period, params(settings))


def build_report(
    store: EventStore, name: str, period: Period, known_at: datetime | None, settings: Settings
) -> Report:
    """The named report for a business period, as known at `known_at` (None: as known now)."""
    if name not in definitions.CURRENT:
        raise UnknownReport(name)  # before folding the whole store
    return report_from_bundle(bundle_from_store(store, known_at), name, period, settings)


ACCESS_LOG: Final = "access.jsonl"


def _without_password(url: str) -> str:
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def record_access(
    settings: Settings, name: str, period: Period, known_at: datetime | None, *, fmt: str, source: str
) -> Path:
    """Append one access-log line for a raw-figure report run; returns the log's path."""
    path = settings.var_dir / ACCESS_LOG
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = "unknown"
    entry = {
        "at": datetime.now(UTC).isoformat(), "user": user, "command": "report",
        "report": name, "from": period.start.isoformat(), "to": period.end.isoformat(),
        "known_at": None if known_at is None else known_at.isoformat(), "format": fmt, "source": source,
        "db": _without_password(settings.db),
    }
    with path.open("ab") as log:
        log.write(orjson.dumps(entry) + b"\n")
    return path
