"""The event envelope: one JSON object per event (one line of JSONL, one Kafka message).

Fields (the public contract, docs/events.md): event_id, type, version, stream_id, municipality,
occurred_at (business time), recorded_at (registration time), data, and two fields only the store
sets: position (global, gap-free order of the store) and appended_at.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, field_validator

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

    @field_validator("recorded_at", "appended_at")
    @classmethod
    def _tz(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_aware(value)

    @property
    def business_date(self) -> date:
        """The Stockholm day of `occurred_at` (business / valid time)."""
        return local_date(self.occurred_at)

    @property
    def recorded_date(self) -> date | None:
        return None if self.recorded_at is None else local_date(self.recorded_at)
