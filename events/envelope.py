"""The event envelope: one JSON object per event (one line of JSONL, one Kafka message).

Fields (the public contract, docs/events.md): event_id, type, version, stream_id, municipality,
occurred_at (business time), recorded_at (registration time), data, and two fields only the store
sets: position (global, gap-free order of the store) and appended_at. `sealed` is the personal part
(docs/privacy.md): the fields a payload class names in PERSONAL_FIELDS, encrypted by the platform at
its one write path; only the platform sets it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from events.base import BusinessTime, EventData
from events.timeutil import as_aware, local_date

StreamId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]*$")]
Municipality = Annotated[str, Field(pattern=r"^[0-9]{4}$")]


# A date is accepted too (the start of that Stockholm day), so the schema says so.
_RECORDED_AT_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"}, {"type": "string", "format": "date"}, {"type": "null"}
    ],
    "default": None,
    "title": "Recorded At",
}


def _aware(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 10:
        return as_aware(date.fromisoformat(value))
    return value


RecordedAt = Annotated[datetime | None, BeforeValidator(_aware), WithJsonSchema(_RECORDED_AT_SCHEMA)]
KeyId = Annotated[str, Field(min_length=3, max_length=220, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/#-]*$")]
Base64 = Annotated[str, Field(min_length=4, max_length=90_000, pattern=r"^[A-Za-z0-9+/]+={0,2}$")]


class Sealed(BaseModel):
    """The sealed personal part: AES-256-GCM of the JSON of the personal fields, with `event_id` as
    associated data (a sealed part moved to another event does not open). Set by the platform only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alg: Literal["AES-256-GCM"] = "AES-256-GCM"
    key: KeyId = Field(description="the key's id in the key store: a person id, or stream:<stream_id>")
    nonce: Base64 = Field(description="96-bit nonce, base64")
    ciphertext: Base64 = Field(description="ciphertext with the 128-bit tag, base64")


class Event(BaseModel):
    """A validated event. Per-type subclasses (events.registry) narrow `type`, `version` and `data`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: UUID
    type: str
    version: int = Field(default=1, ge=1)
    stream_id: StreamId
    municipality: Municipality
    occurred_at: BusinessTime
    recorded_at: RecordedAt = None
    data: EventData
    position: int | None = Field(default=None, ge=1)
    appended_at: datetime | None = None
    sealed: Sealed | None = None

    @field_validator("recorded_at", "appended_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_aware(value)

    @model_validator(mode="after")
    def _personal_given(self) -> Event:
        if self.sealed is None:
            missing = [f for f in type(self.data).PERSONAL_REQUIRED if getattr(self.data, f) is None]
            if missing:
                raise ValueError(f"data.{missing[0]}: Field required")
        return self

    @property
    def business_date(self) -> date:
        """The Stockholm day of `occurred_at` (business / valid time)."""
        return local_date(self.occurred_at)

    @property
    def recorded_date(self) -> date | None:
        return None if self.recorded_at is None else local_date(self.recorded_at)
