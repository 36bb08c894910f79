"""The trusted decode of stored bytes for replay: the envelope models built without validating again.

Every stored event was validated in full when the store accepted it (its envelope model, every
field, enum and range, and the personnummer scan), and a replay's proof hashes the stored bytes, so
bytes changed since then are named by `verify` whatever they decode to. Replay therefore builds
the same `Event` objects with `model_construct`, converting each JSON value the way its field's
type does (UUID, date, datetime, Decimal; strings, integers and booleans of their own JSON type, a
Literal field's value one of its values), which costs a fraction of a validation (`_build` sets
what `model_construct` sets, without its overhead). It does so only for latest-version events of
the types in `FAST` without a sealed part; anything else, and any value a converter does not
accept, returns None and takes the validating path (`services.audit.source.decode_stored`), which
names an event that no longer validates. A unit test decodes the golden samples and simulated
histories both ways and requires equal events.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

from events import Event
from events.registry import ENVELOPES, LATEST
from events.timeutil import as_aware

Convert = Callable[[Any], Any]
FAST = frozenset({
    "case.actualised", "investigation.opened", "investigation.closed", "placement.started",
    "placement.repriced", "placement.ended", "placement.corrected", "unit.capacity_set", "event.retracted",
})
_ENVELOPE = frozenset({"event_id", "type", "version", "stream_id", "municipality", "occurred_at",
                       "recorded_at", "data"})


def decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise TypeError("money is not a boolean")
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _date(value: Any) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("not a date")
    return date.fromisoformat(value)


def business_time(value: Any) -> date | datetime:
    """`events.base.BusinessTime`: ten characters are a date, anything longer an ISO datetime."""
    if not isinstance(value, str):
        raise ValueError("not a date or datetime")
    return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)


def recorded_time(value: Any) -> datetime | None:
    """`events.envelope.RecordedAt`: a date is the start of that Stockholm day; always aware."""
    return None if value is None else as_aware(business_time(value))


def _text(value: Any) -> str:
    if type(value) is not str:
        raise TypeError("not a string")
    return value


def _int(value: Any) -> int:
    if type(value) is not int:
        raise TypeError("not an integer")
    return value


def _bool(value: Any) -> bool:
    if type(value) is not bool:
        raise TypeError("not a boolean")
    return value


def _one_of(allowed: frozenset[Any]) -> Convert:
    """A Literal field: one of its values (a tampered value takes the validating path, which names it;
    without this check it reached the projections, which failed on it)."""
    def check(value: Any) -> Any:
        if type(value) not in (str, int) or value not in allowed:
            raise ValueError("not one of the field's values")
        return value
    return check


_SIMPLE: Mapping[Any, Convert] = {str: _text, int: _int, bool: _bool, Decimal: decimal, date: _date,
                                  UUID: UUID}


def converter(annotation: Any) -> Convert | None:
    """How a JSON value becomes the field's Python value, or None when this path does not handle it."""
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if annotation in _SIMPLE:
        return _SIMPLE[annotation]
    origin = get_origin(annotation)
    if origin is Literal:
        return _one_of(frozenset(get_args(annotation)))
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        found = [converter(a) for a in inner]
        if len(found) == 1 and found[0] is not None:
            one = found[0]
            return lambda v: None if v is None else one(v)
    return None


Plan = tuple[type[Event], type[BaseModel], tuple[tuple[str, Convert, Any], ...], tuple[tuple[str, Any], ...]]
_REQUIRED: Any = object()


def _fields(model: type[BaseModel]) -> tuple[tuple[str, Any], ...]:
    return tuple((name, _REQUIRED if info.is_required() else info.get_default(call_default_factory=True))
                 for name, info in model.model_fields.items())


@cache
def _plan(etype: str) -> Plan | None:
    envelope = ENVELOPES[etype]
    data_cls: type[BaseModel] = envelope.model_fields["data"].annotation  # type: ignore[assignment]
    fields: list[tuple[str, Convert, Any]] = []
    for name, default in _fields(data_cls):
        conv = converter(data_cls.model_fields[name].annotation)
        if conv is None:
            return None
        fields.append((name, conv, default))
    return envelope, data_cls, tuple(fields), _fields(envelope)


def _build(cls: type[BaseModel], values: dict[str, Any], given: set[str]) -> Any:
    """What `model_construct` does, without its per-call overhead (values in field order, defaults in)."""
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", given)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


def _data(cls: type[BaseModel], fields: tuple[tuple[str, Convert, Any], ...], raw: dict[str, Any]) -> Any:
    values: dict[str, Any] = {}
    for name, conv, default in fields:
        if name in raw:
            values[name] = conv(raw[name])
        elif default is _REQUIRED:
            raise KeyError(name)
        else:
            values[name] = default
    if len(raw) != sum(1 for name in raw if name in values):
        raise KeyError("unknown field")
    return _build(cls, values, set(raw))


def trusted(value: dict[str, Any], position: int, appended_at: datetime) -> Event | None:
    """The stored event `value` (parsed JSON) as its envelope model, or None to take the validating path."""
    etype = value.get("type")
    if etype not in FAST or value.get("version") != LATEST[etype].VERSION or not _ENVELOPE.issuperset(value):
        return None
    plan = _plan(etype)
    if plan is None:
        return None
    envelope, data_cls, fields, envelope_fields = plan
    try:
        got = {"event_id": UUID(value["event_id"]), "type": etype, "version": value["version"],
               "stream_id": value["stream_id"], "municipality": value["municipality"],
               "occurred_at": business_time(value["occurred_at"]),
               "recorded_at": recorded_time(value.get("recorded_at")),
               "data": _data(data_cls, fields, value["data"]), "position": position,
               "appended_at": as_aware(appended_at)}
    except (KeyError, TypeError, ValueError, ArithmeticError, AttributeError):
        return None
    values = {name: got.get(name, default) for name, default in envelope_fields}
    event: Event = _build(envelope, values, {*value, "position", "appended_at"})
    return event
