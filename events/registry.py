"""Every event type and version, the per-type envelope models, and the pure upcasters.

A changed meaning is a new version: the old payload is upcast by a pure `dict -> dict` function
before validation, so folds only ever see the latest version of each type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final, Literal

from pydantic import Field, WithJsonSchema, create_model

from events.access import AccessViewed
from events.base import EventData
from events.case import (
    AssessmentCompleted,
    CaseActualised,
    CaseClosed,
    InterventionDecided,
    InvestigationClosed,
    InvestigationOpened,
)
from events.envelope import Event
from events.placement import (
    PlacementCorrected,
    PlacementEnded,
    PlacementRepriced,
    PlacementStarted,
    PlacementStartedV1,
)
from events.reference import (
    BudgetRevised,
    BudgetSet,
    EkbStatusChanged,
    EventRetracted,
    ForecastAdjusted,
    LedgerPosted,
    UnitCapacitySet,
    WorkloadMeasured,
)
from events.retention import RetentionApplied

PAYLOADS: Final[tuple[type[EventData], ...]] = (
    CaseActualised, AssessmentCompleted, InvestigationOpened, InvestigationClosed, InterventionDecided,
    CaseClosed, PlacementStarted, PlacementRepriced, PlacementEnded, PlacementCorrected, UnitCapacitySet,
    BudgetSet, BudgetRevised, LedgerPosted, ForecastAdjusted, EkbStatusChanged, WorkloadMeasured,
    EventRetracted,
    RetentionApplied,
    AccessViewed,
)

LATEST: Final[dict[str, type[EventData]]] = {p.TYPE: p for p in PAYLOADS}

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


def _placement_started_v1_to_v2(event: dict[str, Any]) -> dict[str, Any]:
    """v1 carried only a day price (`price_per_day_sek`); v2 has `price_sek` with a `price_unit`."""
    data = dict(event.get("data") or {})
    if "price_per_day_sek" in data:
        data["price_sek"] = data.pop("price_per_day_sek")
    data.setdefault("price_unit", "day")
    return {**event, "version": 2, "data": data}


# (type, from_version) -> upcaster to from_version + 1
UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {
    ("placement.started", 1): _placement_started_v1_to_v2,
}

KNOWN_VERSIONS: Final[dict[str, tuple[int, ...]]] = {
    t: tuple(range(1, p.VERSION + 1)) for t, p in LATEST.items()
}

# Payload models of superseded versions: they document each old (type, version) and give it its JSON
# Schema. Decoding upcasts old events first and validates them with the latest model.
SUPERSEDED: Final[tuple[type[EventData], ...]] = (PlacementStartedV1,)

VERSIONS: Final[dict[tuple[str, int], type[EventData]]] = {
    **{(p.TYPE, p.VERSION): p for p in SUPERSEDED},
    **{(p.TYPE, p.VERSION): p for p in PAYLOADS},
}


def _envelope_model(payload: type[EventData]) -> type[Event]:
    name = "".join(part.title() for part in payload.TYPE.replace(".", "_").split("_"))
    if payload is not LATEST[payload.TYPE]:
        name += f"V{payload.VERSION}"
    name += "Event"
    # The literals are built at run time from the payload's class variables; mypy cannot see them.
    type_literal: Any = Literal.__getitem__(payload.TYPE)
    # The version is a strict integer equal to VERSION: a Literal would take JSON `true` as 1 (pydantic's
    # lax literal matching), which `decode_stored` rejects; the schema still reads `const`.
    version_field: Any = Annotated[
        int,
        Field(strict=True, ge=payload.VERSION, le=payload.VERSION),
        WithJsonSchema({"const": payload.VERSION, "type": "integer"}),
    ]
    model: type[Event] = create_model(
        name,
        __base__=Event,
        __doc__=payload.__doc__,
        type=(type_literal, ...),
        version=(version_field, payload.VERSION),
        data=(payload, ...),
    )
    return model


ENVELOPES: Final[dict[str, type[Event]]] = {t: _envelope_model(p) for t, p in LATEST.items()}
ENVELOPE_VERSIONS: Final[dict[tuple[str, int], type[Event]]] = {
    key: ENVELOPES[key[0]] if p is LATEST[key[0]] else _envelope_model(p) for key, p in VERSIONS.items()
}


def upcast(event: dict[str, Any]) -> dict[str, Any]:
    """Bring a raw event dict to the latest version of its type (no-op if already latest)."""
    etype = event["type"]
    version = event.get("version", 1)
    while version < LATEST[etype].VERSION:
        event = UPCASTERS[(etype, version)](event)
        version = event["version"]
    return event
