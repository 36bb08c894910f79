"""The LVU/LVM report (Placeringar enligt LVU och LVM): unique individuals by law and sex.

Rows as the report: "Antal unika individer i placering enl LVU" (subtotal) with "varav flickor" and
"varav pojkar" (details), the same for LVM with "varav kvinnor" / "varav män", and a total of unique
individuals under either law. Other or unknown sex gets its own detail row when it occurs. The
column `individuals` is the asked period; `years_back` adds the same dates of earlier years
(`individuals_<year>`), as the report's Jan–Aug columns 2016–2021. Columns: docs/reports.md (#lvu-lvm).
"""

from __future__ import annotations

from datetime import date
from typing import Final

from events.timeutil import Period
from events.vocabulary import LegalBasis, Sex
from projections import care_costs
from projections.lvu_lvm import COMPULSORY, Individuals, unique_individuals
from projections.reports.base import Column, Report, Value

TOTAL_SV: Final[dict[LegalBasis, str]] = {
    "LVU": "Antal unika individer i placering enl LVU",
    "LVM": "Antal unika individer i placering enl LVM",
}
SEX_ROW_SV: Final[dict[LegalBasis, dict[Sex, str]]] = {
    "LVU": {"female": "varav flickor", "male": "varav pojkar", "other": "varav annat kön",
            "unknown": "varav okänt kön"},
    "LVM": {"female": "varav kvinnor", "male": "varav män", "other": "varav annat kön",
            "unknown": "varav okänt kön"},
}
ALWAYS: Final[tuple[Sex, ...]] = ("female", "male")
OPTIONAL: Final[tuple[Sex, ...]] = ("other", "unknown")


def shifted(period: Period, years: int) -> Period:
    """The same dates `years` earlier (29 February becomes 28 February)."""
    def back(d: date) -> date:
        try:
            return d.replace(year=d.year - years)
        except ValueError:
            return d.replace(year=d.year - years, day=28)
    return Period(back(period.start), back(period.end))


def lvu_lvm_report(state: care_costs.State, period: Period, *, years_back: int = 0) -> Report:
    """Unique LVU and LVM individuals by sex for the period (and the same dates of earlier years)."""
    earlier = [shifted(period, k) for k in range(years_back, 0, -1)]
    columns: dict[str, Period] = {f"individuals_{p.start.year}": p for p in earlier}
    columns["individuals"] = period
    figures = {key: unique_individuals(state, p) for key, p in columns.items()}
    rows: list[dict[str, Value]] = []
    for basis in COMPULSORY:
        rows.append(_row(basis, "all", TOTAL_SV[basis], "subtotal",
                         {k: f[basis].total for k, f in figures.items()}))
        present = {s for f in figures.values() for s in OPTIONAL if f[basis].count(s)}
        for sex in (*ALWAYS, *(s for s in OPTIONAL if s in present)):
            rows.append(_row(basis, sex, SEX_ROW_SV[basis][sex], "detail",
                             {k: f[basis].count(sex) for k, f in figures.items()}))
    rows.append(_row(None, "all", "Totalt unika individer i placering enl LVU eller LVM", "total",
                     {k: _either(f) for k, f in figures.items()}))
    cols = (
        Column("legal_basis", "Lagrum", "text"),
        Column("sex", "Kön", "text"),
        Column("measure", "Mått", "text"),
        *(Column(k, f"{p.start.isoformat()}–{p.end.isoformat()}", "int") for k, p in columns.items()),
        Column("row_type", "Radtyp", "text"),
    )
    return Report("lvu-lvm", f"Placeringar enligt LVU och LVM {period}", cols, rows)


def _either(figures: dict[LegalBasis, Individuals]) -> int:
    return len(frozenset().union(*(i.persons for i in figures.values())))


def _row(
    basis: LegalBasis | None, sex: str, label: str, row_type: str, values: dict[str, int]
) -> dict[str, Value]:
    return {"legal_basis": basis, "sex": sex, "measure": label, **values, "row_type": row_type}
