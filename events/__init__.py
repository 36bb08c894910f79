"""The case-event language of casestream: envelope, payload types, codec, schemas, upcasters."""

from events.base import EventData
from events.case import (
    AssessmentCompleted,
    CaseActualised,
    CaseClosed,
    InterventionDecided,
    InvestigationClosed,
    InvestigationOpened,
)
from events.codec import EventError, Problem, Rejected, decode, decode_dict, encode, read_jsonl, to_dict
from events.envelope import Event
from events.placement import PlacementCorrected, PlacementEnded, PlacementRepriced, PlacementStarted
from events.reference import (
    BudgetLine,
    BudgetRevised,
    BudgetSet,
    EkbStatusChanged,
    EventRetracted,
    ForecastAdjusted,
    LedgerPosted,
    UnitCapacitySet,
    WorkloadMeasured,
)

__all__ = [
    "AssessmentCompleted", "BudgetLine", "BudgetRevised", "BudgetSet", "CaseActualised", "CaseClosed",
    "EkbStatusChanged", "Event", "EventData", "EventError", "EventRetracted", "ForecastAdjusted",
    "InterventionDecided", "InvestigationClosed", "InvestigationOpened", "LedgerPosted", "PlacementCorrected",
    "PlacementEnded", "PlacementRepriced", "PlacementStarted", "Problem", "Rejected", "UnitCapacitySet",
    "WorkloadMeasured", "decode", "decode_dict", "encode", "read_jsonl", "to_dict",
]
