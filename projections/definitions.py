"""Versioned KPI definitions (KPI-definitioner): which builder computes a report, by version.

A published figure names the definition it was computed with (`CURRENT[name]`), and an audit proof
records that version. Changing how a figure is defined (a new rule for vårddygn, a new row, another
rounding of the forecast) is a *new version*: add a builder under `(name, version + 1)`, point
`CURRENT` at it, and keep the old entry, so that `casestream verify` of an old proof still rebuilds
the figure exactly as it was defined when it was published.

Version 1 of every report is the builder `casestream report` uses (services/reports.py), a test keeps
the two equal. Builders are pure: a folded `bundle.State`, the business period (inclusive) and the
`Params` that change figures (utredningstid limit), nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

from events.timeutil import Month, Period
from projections import bundle, care_costs, intake
from projections.reports.base import Report
from projections.reports.budget import budget_report
from projections.reports.external_purchases import external_purchases_report
from projections.reports.forecast import forecast_report
from projections.reports.intake import intake_report
from projections.reports.investigations import investigations_report
from projections.reports.lvu_lvm import lvu_lvm_report
from projections.reports.occupancy import occupancy_report


@dataclass(frozen=True, slots=True)
class Params:
    """Settings that change figures; a proof records them so a re-derivation uses the same ones."""

    investigation_limit_days: int = 120


Builder = Callable[[bundle.State, Period, Params], Report]
DefinitionKey = tuple[str, int]


class UnknownDefinition(KeyError):
    """A (report, version) pair no builder is registered for; the message names it and the known ones."""

    def __init__(self, name: str, version: int, known: Mapping[DefinitionKey, Builder]) -> None:
        have = ", ".join(f"{n} v{v}" for n, v in sorted(known))
        super().__init__(f"no KPI definition {name!r} version {version} (known: {have})")
        self.name = name
        self.version = version

    def __str__(self) -> str:
        return str(self.args[0])


def history_start(state: bundle.State) -> Month | None:
    """The first month of the case history: the earliest aktualisering or utredning inledd."""
    months: list[Month] = []
    first_intake = intake.first_month(state.intake)
    if first_intake is not None:
        months.append(first_intake)
    if state.investigations.opened:
        months.append(Month.of(min(day for day, _ in state.investigations.opened)))
    return min(months) if months else None


def _occupancy_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Beläggningsgrad per own unit: occupied place-days ÷ (places × days)."""
    return occupancy_report(state.occupancy, state.care_costs, period)


def _external_purchases_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Externa köp: personer snitt per dygn and kostnad per vårddygn per line, forecast year = end year."""
    figures = care_costs.line_figures(state.care_costs, period)
    return external_purchases_report(figures, state.budget, period, period.end.year)


def _forecast_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Run-rate prognos per line for the year of the period's last day."""
    figures = care_costs.line_figures(state.care_costs, period)
    return forecast_report(figures, state.budget, period, period.end.year)


def _intake_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Aktualiseringar per month; rolling means start at the first month of the history."""
    return intake_report(state.intake, period, since=history_start(state))


def _investigations_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Utredningar: opened, closed, within the limit of `investigation_limit_days`."""
    return investigations_report(state.investigations, period, limit_days=params.investigation_limit_days,
                                 since=history_start(state))


def _lvu_lvm_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Unique individuals with LVU / LVM placements in the period, by sex."""
    return lvu_lvm_report(state.care_costs, period)


def _budget_v1(state: bundle.State, period: Period, params: Params) -> Report:
    """Budget, periodens budget, utfall and avvikelse (budget − utfall) per line of the end year."""
    return budget_report(state.budget, period, period.end.year)


DEFINITIONS: Final[Mapping[DefinitionKey, Builder]] = {
    ("occupancy", 1): _occupancy_v1,
    ("external-purchases", 1): _external_purchases_v1,
    ("intake", 1): _intake_v1,
    ("investigations", 1): _investigations_v1,
    ("lvu-lvm", 1): _lvu_lvm_v1,
    ("budget", 1): _budget_v1,
    ("forecast", 1): _forecast_v1,
}

# The bundle projections each definition reads (a replay folds only these; `bundle.State` field names).
NEEDS: Final[Mapping[DefinitionKey, frozenset[str]]] = {
    ("occupancy", 1): frozenset({"occupancy", "care_costs"}),
    ("external-purchases", 1): frozenset({"care_costs", "budget"}),
    ("intake", 1): frozenset({"intake", "investigations"}),
    ("investigations", 1): frozenset({"investigations", "intake"}),
    ("lvu-lvm", 1): frozenset({"care_costs"}),
    ("budget", 1): frozenset({"budget"}),
    ("forecast", 1): frozenset({"care_costs", "budget"}),
}
ALL_PROJECTIONS: Final = frozenset({"care_costs", "occupancy", "intake", "investigations", "budget", "ekb",
                                    "workload"})

CURRENT: Final[Mapping[str, int]] = {
    "occupancy": 1,
    "external-purchases": 1,
    "intake": 1,
    "investigations": 1,
    "lvu-lvm": 1,
    "budget": 1,
    "forecast": 1,
}


def builder(name: str, version: int, registry: Mapping[DefinitionKey, Builder] = DEFINITIONS) -> Builder:
    """The builder of report `name` at definition `version` (raises `UnknownDefinition`)."""
    found = registry.get((name, version))
    if found is None:
        raise UnknownDefinition(name, version, registry)
    return found


def needs(name: str, version: int, registry: Mapping[DefinitionKey, Builder] = DEFINITIONS) -> frozenset[str]:
    """The projections a definition reads; all of them for a definition that does not say."""
    builder(name, version, registry)
    return NEEDS.get((name, version), ALL_PROJECTIONS)


def build(state: bundle.State, name: str, version: int, period: Period, params: Params,
          registry: Mapping[DefinitionKey, Builder] = DEFINITIONS) -> Report:
    """The report `name` as defined by `version`, read off a folded bundle."""
    return builder(name, version, registry)(state, period, params)
