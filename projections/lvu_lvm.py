"""Unique individuals placed under LVU and LVM (antal unika individer i placering enl LVU / LVM).

KPI, in the reports' own terms (BRIEF §2.3 "unika individer", §3.5; R19):

* **Antal unika individer i placering enligt LVU** (resp. **LVM**): distinct persons with an
  *ongoing* placement under that law on at least one day of the period — any regime, own unit or
  purchased, any line. "Ongoing on day d" follows the care-day rule: start <= d < departure day.
* **varav flickor / pojkar** (LVU), **varav kvinnor / män** (LVM): the same persons by sex; the
  sexes sum to the total. A person whose placements disagree on sex is counted once, under the sex
  of their latest-starting placement in the period (ties: the highest placement id).

The figures are read off the `care_costs` state (no own fold). Persons are pseudonymous ids kept as
sets (CONVENTIONS §6); partial placement states merge in `care_costs.merge` before the read-off.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from events.timeutil import Period
from events.vocabulary import LegalBasis, Sex
from projections import care_costs
from projections.placement_facts import Placement

COMPULSORY: Final[tuple[LegalBasis, ...]] = ("LVU", "LVM")


@dataclass(frozen=True, slots=True)
class Individuals:
    """Distinct persons of one legal basis in a period, by sex."""

    legal_basis: LegalBasis
    period: Period
    by_sex: dict[Sex, frozenset[str]] = field(default_factory=dict)

    @property
    def persons(self) -> frozenset[str]:
        return frozenset().union(*self.by_sex.values())

    @property
    def total(self) -> int:
        return len(self.persons)

    def count(self, sex: Sex) -> int:
        return len(self.by_sex.get(sex, frozenset()))


def _latest_first(placements: Iterable[Placement]) -> list[Placement]:
    return sorted(placements, key=lambda p: (p.start, p.placement_id), reverse=True)


def unique_individuals(
    state: care_costs.State, period: Period, bases: Iterable[LegalBasis] = COMPULSORY
) -> dict[LegalBasis, Individuals]:
    """Unique individuals per legal basis with an ongoing placement on some day of the period."""
    wanted = tuple(bases)
    found: dict[LegalBasis, list[Placement]] = {b: [] for b in wanted}
    for p in care_costs.covered_placements(state, period, "all"):
        if p.legal_basis in found:
            found[p.legal_basis].append(p)
    out: dict[LegalBasis, Individuals] = {}
    for basis in wanted:
        sex_of: dict[str, Sex] = {}
        for p in _latest_first(found[basis]):
            sex_of.setdefault(p.person, p.sex)
        by_sex: dict[Sex, set[str]] = {}
        for person, sex in sex_of.items():
            by_sex.setdefault(sex, set()).add(person)
        out[basis] = Individuals(basis, period, {s: frozenset(v) for s, v in sorted(by_sex.items())})
    return out

