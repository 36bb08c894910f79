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
run is logged (CONVENTIONS §7): `services.access_cli.record_report_run` appends one `access.viewed`
event per run to the store (who, when, which report, period, known-at), read by the monthly
logguppföljning (`casestream report logguppfoljning --month YYYY-MM`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

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
