"""The fixed vocabularies of the platform: report lines, target groups, legal bases, channels.

One list, used by events, reports, UI, metric labels and the simulator (CONVENTIONS §2).
The externa-köp table ("externa köp") is laid out from `REPORT_LINES` in this order.
Swedish labels are the reports' own terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

TargetGroup = Literal["children", "youth", "adults"]
Channel = Literal["report", "application", "request"]
LegalBasis = Literal["SoL", "LVU", "LVM", "LSS", "HSL"]
Regime = Literal["own", "purchased"]
PriceUnit = Literal["day", "month"]
Sex = Literal["female", "male", "other", "unknown"]
UnitKind = Literal["long_stay", "short_stay", "group"]

Category = Literal[
    "institution",
    "family_home_internal",
    "family_home_external",
    "contact_person",
    "outpatient_day_priced",
    "outpatient_other",
    "emergency_home_contracted",
    "institution_substance",
    "outpatient_substance",
    "housing_substance",
    "family_home_substance",
    "care_non_substance",
    "supported_housing",
    "protected_housing",
]

TARGET_GROUPS: Final[tuple[TargetGroup, ...]] = get_args(TargetGroup)
CHANNELS: Final[tuple[Channel, ...]] = get_args(Channel)
LEGAL_BASES: Final[tuple[LegalBasis, ...]] = get_args(LegalBasis)
CATEGORIES: Final[tuple[Category, ...]] = get_args(Category)
SEXES: Final[tuple[Sex, ...]] = get_args(Sex)

TARGET_GROUP_SV: Final[dict[TargetGroup, str]] = {"children": "Barn", "youth": "Unga", "adults": "Vuxna"}
CHANNEL_SV: Final[dict[Channel, str]] = {"report": "Anmälan", "application": "Ansökan", "request": "Begäran"}
SEX_SV: Final[dict[Sex, str]] = {
    "female": "Kvinnor/flickor", "male": "Män/pojkar", "other": "Annat", "unknown": "Okänt"
}

CATEGORY_SV: Final[dict[Category, str]] = {
    "institution": "Institutionsvård",
    "family_home_internal": "Familjehemsvård internt",
    "family_home_external": "Familjehemsvård externt",
    "contact_person": "Kontaktperson/-familj",
    "outpatient_day_priced": "Personligt stöd/öppenvård (dygnspris)",
    "outpatient_other": "Personligt stöd/öppenvård övrigt",
    "emergency_home_contracted": "Kontrakterade jourhem",
    "institution_substance": "Institutionsvård missbruk",
    "outpatient_substance": "Öppenvård missbruk",
    "housing_substance": "Boende missbruk",
    "family_home_substance": "Familjehem missbruk",
    "care_non_substance": "Vård icke missbrukare",
    "supported_housing": "Stödboende",
    "protected_housing": "Skyddat boende",
}

# Lines priced per month (a part month costs price x covered days / days in month).
MONTHLY_PRICED: Final[frozenset[Category]] = frozenset({"family_home_internal", "emergency_home_contracted"})
# Lines that carry cost only: no persons per day, no day price.
COST_ONLY: Final[frozenset[Category]] = frozenset({"contact_person", "outpatient_other"})


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One row of the externa-köp table: a category for a target group, inside a group block."""

    group: str  # "children", "youth", "emergency", "adults": the table's blocks (Barn, Unga, Jourhem, Vuxna)
    category: Category
    target_group: TargetGroup

    @property
    def day_priced(self) -> bool:
        return self.category not in MONTHLY_PRICED and self.category not in COST_ONLY

    @property
    def monthly_priced(self) -> bool:
        return self.category in MONTHLY_PRICED

    @property
    def cost_only(self) -> bool:
        return self.category in COST_ONLY


_CHILD_YOUTH_CATEGORIES: Final[tuple[Category, ...]] = (
    "institution",
    "family_home_internal",
    "family_home_external",
    "contact_person",
    "outpatient_day_priced",
    "outpatient_other",
)
_ADULT_CATEGORIES: Final[tuple[Category, ...]] = (
    "institution_substance",
    "outpatient_substance",
    "housing_substance",
    "family_home_substance",
    "care_non_substance",
)

REPORT_LINES: Final[tuple[ReportLine, ...]] = (
    *(ReportLine("children", c, "children") for c in _CHILD_YOUTH_CATEGORIES),
    *(ReportLine("youth", c, "youth") for c in _CHILD_YOUTH_CATEGORIES),
    # Jourhem is its own line, outside the group subtotals; it serves children and youth.
    ReportLine("emergency", "emergency_home_contracted", "children"),
    *(ReportLine("adults", c, "adults") for c in _ADULT_CATEGORIES),
)

REPORT_GROUP_SV: Final[dict[str, str]] = {
    "children": "Barn",
    "youth": "Unga",
    "emergency": "Jourhem",
    "adults": "Vuxna",
}


def report_group(category: Category, target_group: TargetGroup) -> str:
    """The table block a (category, target group) belongs to; jourhem is always its own block."""
    if category == "emergency_home_contracted":
        return "emergency"
    return target_group
