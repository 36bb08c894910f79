"""Retention (gallring): the act of removing personal data is itself an event in the append-only log.

Removal is crypto-shredding (docs/privacy.md): the keys of the selected persons are deleted from the
key store, so their sealed personal parts can never be opened again, while every stored event, and
so every KPI, stays as it was. The event records the act — which policy, which rule, the cut-off and
the counts — and never an id of a person or a case. No projection reads it.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from events.base import EventData, Identifier


class RetentionApplied(EventData):
    """Gallring verkställd: a retention policy was applied; the persons' keys were shredded."""

    TYPE = "retention.applied"
    policy: Identifier = Field(description="the policy's name in the retention configuration")
    rule: Identifier = Field(description="`default`, or the name of the override that decided")
    run_date: date = Field(description="the day the policy was evaluated for (gallringsdag)")
    cut_off: date = Field(description="persons whose last entry is before this day were removed")
    persons: int = Field(ge=0, description="persons whose personal data was removed")
    cases: int = Field(ge=0, description="their cases (ärenden)")
    events: int = Field(ge=0, description="events on their streams (cases, placements)")


__all__ = ["RetentionApplied"]
