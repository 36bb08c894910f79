"""Placement events: placering påbörjad, omprissatt, avslutad, rättad.

The stream is the placement (`stream_id` == `data.placement_id` is recommended; the projection keys
by `placement_id`). A placement covers the days start <= d < end (nights; CONVENTIONS §1).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import model_validator

from events.base import EventData, Identifier, NonNegativeMoney, PersonId, Text
from events.vocabulary import Category, LegalBasis, PriceUnit, Regime, Sex, TargetGroup

EndReason = Literal[
    "planned", "breakdown", "custody_transfer", "moved", "aged_out", "own_home", "deceased", "other"
]


class PlacementStarted(EventData):
    """Placering påbörjad (version 2): the start day is `occurred_at`; price per day or per month."""

    TYPE = "placement.started"
    VERSION = 2
    placement_id: Identifier
    person: PersonId
    case_id: Identifier | None = None
    category: Category
    regime: Regime
    unit_id: Identifier | None = None
    target_group: TargetGroup
    legal_basis: LegalBasis
    sex: Sex = "unknown"
    price_sek: NonNegativeMoney
    price_unit: PriceUnit

    @model_validator(mode="after")
    def _unit_for_own(self) -> PlacementStarted:
        if self.regime == "own" and self.unit_id is None:
            raise ValueError("unit_id is required when regime is 'own'")
        return self


class PlacementStartedV1(EventData):
    """Placering påbörjad, version 1 (superseded by version 2): a day price only, `price_per_day_sek`.

    Still accepted on the wire: decoding upcasts it to version 2 (`price_sek` = `price_per_day_sek`,
    `price_unit` = "day") and validates the result, so folds only see version 2. This model gives
    version 1 its JSON Schema; the upcaster is more lenient (an event that omits `version`, and so
    is version 1, but already carries the version-2 `price_sek` and `price_unit` is accepted as is).
    """

    TYPE = "placement.started"
    VERSION = 1
    placement_id: Identifier
    person: PersonId
    case_id: Identifier | None = None
    category: Category
    regime: Regime
    unit_id: Identifier | None = None
    target_group: TargetGroup
    legal_basis: LegalBasis
    sex: Sex = "unknown"
    price_per_day_sek: NonNegativeMoney
    price_unit: Literal["day"] = "day"


class PlacementRepriced(EventData):
    """Placering omprissatt: a new price from the `occurred_at` day on."""

    TYPE = "placement.repriced"
    placement_id: Identifier
    price_sek: NonNegativeMoney
    price_unit: PriceUnit


class PlacementEnded(EventData):
    """Placering avslutad (utskrivning): `occurred_at` is the departure day, which is not a care day."""

    TYPE = "placement.ended"
    placement_id: Identifier
    reason: EndReason = "planned"


class PlacementCorrected(EventData):
    """Rättelse: corrects a placement's start or end day or its initial price, as registered later."""

    TYPE = "placement.corrected"
    PERSONAL_FIELDS = ("reason",)
    PERSONAL_REQUIRED = ("reason",)
    placement_id: Identifier
    start: date | None = None
    end: date | None = None
    reopen: bool = False
    price_sek: NonNegativeMoney | None = None
    price_unit: PriceUnit | None = None
    reason: Text | None = None  # required on input; sealed away in the store (PERSONAL_REQUIRED)

    @model_validator(mode="after")
    def _changes_something(self) -> PlacementCorrected:
        if self.start is None and self.end is None and not self.reopen and self.price_sek is None:
            raise ValueError("a correction must change start, end, reopen or price_sek")
        if self.reopen and self.end is not None:
            raise ValueError("reopen and end cannot both be given")
        if (self.price_sek is None) != (self.price_unit is None):
            raise ValueError("price_sek and price_unit go together")
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self
