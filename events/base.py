"""Shared field types and the base of every event payload (`data`)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from events.privacy import find_personnummer

MAX_TEXT = 200  # free text longer than this is rejected (privacy: no case notes in events)


def _not_personnummer(value: str) -> str:
    if find_personnummer(value) is not None:
        raise ValueError("looks like a Swedish personnummer; only pseudonymous ids are allowed")
    return value


def _date_or_datetime(value: Any) -> Any:
    """'2021-03-01' is a date; anything with a time part is a datetime."""
    if isinstance(value, str) and len(value) == 10:
        return date.fromisoformat(value)
    return value


def _money(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, bool):
        raise ValueError("money must be a number, not a boolean")
    return value


PersonId = Annotated[
    str,
    Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"),
    AfterValidator(_not_personnummer),
]
Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")]
Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[a-z][a-z0-9_]*$")]
Text = Annotated[str, Field(max_length=MAX_TEXT), AfterValidator(_not_personnummer)]
# Field before BeforeValidator: the constraints then land in the JSON Schema (minimum, ...), and
# `_money` still runs first (a float becomes its shortest decimal, a boolean is refused).
Money = Annotated[
    Decimal, Field(allow_inf_nan=False, max_digits=18, decimal_places=6), BeforeValidator(_money)
]
NonNegativeMoney = Annotated[
    Decimal, Field(ge=0, allow_inf_nan=False, max_digits=18, decimal_places=6), BeforeValidator(_money)
]
Share = Annotated[Decimal, Field(ge=0, le=1, allow_inf_nan=False), BeforeValidator(_money)]
BusinessTime = Annotated[date | datetime, BeforeValidator(_date_or_datetime)]


class EventData(BaseModel):
    """The payload of an event type. Subclasses set TYPE and VERSION (the wire contract)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=False)

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    # The personal part (docs/privacy.md): fields that describe the individual and that no KPI reads.
    # The platform seals them (AES-256-GCM, one key per person) and keeps them out of the stored
    # `data`; PERSONAL_REQUIRED are those a producer must give, which only a sealed event may lack.
    PERSONAL_FIELDS: ClassVar[tuple[str, ...]] = ()
    PERSONAL_REQUIRED: ClassVar[tuple[str, ...]] = ()
