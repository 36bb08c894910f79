"""Reference facts that are not case events (CONVENTIONS §3): capacity, budget, ledger, overrides.

Streams: a unit (`unit:<id>`), a budget year (`budget:<year>`), a ledger (`ledger:<year>`), ...
Money in SEK, costs positive, income negative.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from events.base import Code, EventData, Identifier, Money, NonNegativeMoney, PersonId, Share, Text
from events.vocabulary import Category, Sex, TargetGroup, UnitKind

Year = int


class UnitCapacitySet(EventData):
    """Platser: a unit's place count from the `occurred_at` day on (egen regi)."""

    TYPE = "unit.capacity_set"
    unit_id: Identifier
    name: str = Field(min_length=1, max_length=80)
    places: int = Field(ge=0, le=10_000)
    kind: UnitKind


class BudgetLine(BaseModel):
    """A budget or ledger line: a verksamhet, optionally narrowed to an externa-köp line or account group."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    activity: Code = "external_care"
    category: Category | None = None
    target_group: TargetGroup | None = None
    account_group: Code | None = None

    def key(self) -> str:
        parts = [self.activity, self.category or "", self.target_group or "", self.account_group or ""]
        return "/".join(parts)


def _check_profile(profile: Literal["linear"] | list[Decimal]) -> Literal["linear"] | list[Decimal]:
    if isinstance(profile, list):
        if len(profile) != 12:
            raise ValueError(f"a monthly profile has 12 shares, got {len(profile)}")
        if sum(profile) != 1:
            raise ValueError(f"monthly shares must sum to 1, got {sum(profile)}")
    return profile


class BudgetSet(EventData):
    """Budget: a line's annual amount, with its period profile (linear twelfths or monthly shares)."""

    TYPE = "budget.set"
    year: Year = Field(ge=2000, le=2100)
    line: BudgetLine
    amount_sek: Money
    profile: Literal["linear"] | list[Share] = "linear"
    persons_per_day: Decimal | None = Field(default=None, ge=0)
    price_sek: NonNegativeMoney | None = None

    _profile = field_validator("profile")(_check_profile)


class BudgetRevised(EventData):
    """Budgetjustering / ramjustering: a change of a line's annual amount, with its reason."""

    TYPE = "budget.revised"
    year: Year = Field(ge=2000, le=2100)
    line: BudgetLine
    change_sek: Money
    reason: Text
    profile: Literal["linear"] | list[Share] | None = None

    _profile = field_validator("profile")(_check_profile)


class LedgerPosted(EventData):
    """Utfall: outcome for one month and line (SEK; costs positive, income and VAT refunds negative)."""

    TYPE = "ledger.posted"
    year: Year = Field(ge=2000, le=2100)
    month: int = Field(ge=1, le=12)
    line: BudgetLine
    amount_sek: Money


class ForecastAdjusted(EventData):
    """Prognosjustering: a controller's override of forecast persons, price or total for a line, with reason.

    The line is an externa-köp line (`category` + `target_group`), or a row without persons and price
    named by its account group (`account_group`, e.g. "vat_refund" for återsökt moms). `total_sek`
    replaces the line's forecast total (SEK, costs positive, income negative).
    """

    TYPE = "forecast.adjusted"
    year: Year = Field(ge=2000, le=2100)
    category: Category | None = None
    target_group: TargetGroup | None = None
    account_group: Code | None = None
    persons_per_day: Decimal | None = Field(default=None, ge=0)
    price_sek: NonNegativeMoney | None = None
    total_sek: Money | None = None
    reason: Text = Field(min_length=1)

    @model_validator(mode="after")
    def _overrides_something(self) -> ForecastAdjusted:
        if self.persons_per_day is None and self.price_sek is None and self.total_sek is None:
            raise ValueError("forecast.adjusted must set persons_per_day, price_sek or total_sek")
        if (self.category is None) != (self.target_group is None):
            raise ValueError("forecast.adjusted names a line by category and target_group together")
        if self.category is None and self.account_group is None:
            raise ValueError(
                "forecast.adjusted must name a line (category + target_group) or an account_group"
            )
        if self.category is None and (self.persons_per_day is not None or self.price_sek is not None):
            raise ValueError("persons_per_day and price_sek need a line (category + target_group)")
        return self


class EkbStatusChanged(EventData):
    """Ensamkommande barn och unga: status from `occurred_at` (asylsökande, kommunplacerad, avslutad)."""

    TYPE = "ekb.status_changed"
    person: PersonId
    status: Literal["asylum_seeker", "municipality_placed", "ended"]
    sex: Sex = "unknown"


class WorkloadMeasured(EventData):
    """Arbetsmängdsmätning: workload ÷ capacity in percent for an area, one measurement."""

    TYPE = "workload.measured"
    area: Code
    week: int = Field(ge=1, le=53)
    value_percent: Decimal = Field(ge=0, le=1000)


class EventRetracted(EventData):
    """Makulering: an earlier event is withdrawn. Appended on the stream of the event it withdraws."""

    TYPE = "event.retracted"
    PERSONAL_FIELDS = ("reason",)
    PERSONAL_REQUIRED = ("reason",)
    retracted_event_id: UUID
    # required on input; sealed away in the store (PERSONAL_REQUIRED)
    reason: Annotated[Text, Field(min_length=1)] | None = None


__all__ = [
    "BudgetLine", "BudgetRevised", "BudgetSet", "EkbStatusChanged", "EventRetracted", "ForecastAdjusted",
    "LedgerPosted", "PersonId", "UnitCapacitySet", "WorkloadMeasured",
]
