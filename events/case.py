"""Case events: aktualisering, förhandsbedömning, utredning, beslut om insats, avslut.

The stream of these events is the case (ärende): `stream_id` is the case id.
"""

from __future__ import annotations

from typing import Literal

from events.base import Code, EventData, Identifier, PersonId, Text
from events.vocabulary import Category, Channel, LegalBasis, Sex, TargetGroup

ReporterCategory = Literal[
    "police", "health_care", "school", "preschool", "social_services", "authority", "relative", "self",
    "anonymous", "other",
]


class CaseActualised(EventData):
    """Aktualisering: a matter reaches social services (anmälan, ansökan or begäran) and opens a case."""

    TYPE = "case.actualised"
    PERSONAL_FIELDS = ("birth_year",)
    person: PersonId
    channel: Channel
    target_group: TargetGroup
    sex: Sex = "unknown"
    birth_year: int | None = None
    reporter_category: ReporterCategory | None = None


class AssessmentCompleted(EventData):
    """Förhandsbedömning klar: decides whether to open an investigation (utredning)."""

    TYPE = "assessment.completed"
    outcome: Literal["investigation", "no_investigation", "transferred"]
    target_group: TargetGroup | None = None


class InvestigationOpened(EventData):
    """Utredning inledd."""

    TYPE = "investigation.opened"
    investigation_id: Identifier
    person: PersonId
    target_group: TargetGroup


class InvestigationClosed(EventData):
    """Utredning avslutad: ends with decisions on insats or none."""

    TYPE = "investigation.closed"
    investigation_id: Identifier
    outcome: Literal["intervention", "no_intervention", "transferred", "withdrawn", "other"] = "other"


class InterventionDecided(EventData):
    """Beslut om insats (bifall) or beslut om att inte bevilja (avslag)."""

    TYPE = "intervention.decided"
    decision: Literal["granted", "refused"]
    intervention: Category | Code
    legal_basis: LegalBasis
    person: PersonId
    target_group: TargetGroup


class CaseClosed(EventData):
    """Ärende avslutat."""

    TYPE = "case.closed"
    PERSONAL_FIELDS = ("comment",)
    reason: Code = "completed"
    comment: Text | None = None
