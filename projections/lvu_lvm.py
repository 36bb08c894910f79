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
from datetime import date
from typing import Final

from events.timeutil import Period
from events.vocabulary import LegalBasis, Sex
from projections import care_costs
from projections.placement_batch import Plain

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


def _latest_first(placements: Iterable[tuple[date, str, str, Sex]]) -> list[tuple[date, str, str, Sex]]:
    return sorted(placements, key=lambda p: (p[0], p[1]), reverse=True)


def unique_individuals(
    state: care_costs.State, period: Period, bases: Iterable[LegalBasis] = COMPULSORY
) -> dict[LegalBasis, Individuals]:
    """Unique individuals per legal basis with an ongoing placement on some day of the period."""
    wanted = tuple(bases)
    found: dict[LegalBasis, list[tuple[date, str, str, Sex]]] = {b: [] for b in wanted}
    plain, others = state.split(period)
    for p in others:  # (start, placement id, person, sex) of each placement that counts
        if p.legal_basis in found and p.covered(period) is not None:
            found[p.legal_basis].append((p.start, p.placement_id, p.person, p.sex))
    if plain is not None:
        for basis, rows in _plain_by_basis(plain, wanted).items():
            starts = [date.fromordinal(d) for d in rows.start.tolist()]
            sexes = [rows.attrs[c][5] for c in rows.code.tolist()]
            found[basis].extend(zip(starts, rows.placement_ids(), rows.person_tokens(), sexes, strict=True))
    out: dict[LegalBasis, Individuals] = {}
    for basis in wanted:
        sex_of: dict[str, Sex] = {}
        for _, _, person, sex in _latest_first(found[basis]):
            sex_of.setdefault(person, sex)
        by_sex: dict[Sex, set[str]] = {}
        for person, sex in sex_of.items():
            by_sex.setdefault(sex, set()).add(person)
        out[basis] = Individuals(basis, period, {s: frozenset(v) for s, v in sorted(by_sex.items())})
    return out


def _plain_by_basis(plain: Plain, bases: tuple[LegalBasis, ...]) -> dict[LegalBasis, Plain]:
    """The plain rows (all with a covered day in the period) of each wanted legal basis."""
    codes: dict[LegalBasis, list[int]] = {}
    for code in plain.codes():
        basis = plain.attrs[code][4]
        if basis in bases:
            codes.setdefault(basis, []).append(code)
    return {basis: plain.of_codes(c) for basis, c in codes.items()}
