"""The shared projector step's pure parts: decoding a stored event fast, and which projections it feeds.

`decode_stored` is the consumer-side validation (`decode_fast` takes the same decision straight from
the bytes and falls back to it for anything it does not accept as it is): size limit, JSON, known type
and version, the upcasters and the full pydantic envelope model of that type (every field, enum and
range), plus a store position. It skips only the personnummer scan (48 µs of its 72 µs per event):
every event on the topic came through `ingest`, whose decoder scans it, so the consumer trusts the
store for that one rule (docs/design.md "Pipeline").

`decode_batch` reads a message the relay signed instead of validating it (`services.readmodel.signed`,
the trust argument is there and in docs/design.md "Signed origin"); everything else is validated.

`relevant(event)` names the projections whose state the event changes. Each projection's `apply`
dispatches on the payload class only, so the answer is found once per class by applying the event to
a fresh state of each projection and comparing with an empty one, and cached; a test proves on
simulated data that folding only the relevant events gives the same state as folding all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from types import ModuleType
from typing import Annotated, Any, Final, Union

import orjson
from pydantic import Field, TypeAdapter, ValidationError

from events import Event, EventError, Problem
from events.codec import MAX_EVENT_BYTES
from events.registry import ENVELOPES, KNOWN_VERSIONS, LATEST, upcast
from projections import budget, care_costs, ekb, intake, investigations, occupancy, workload
from services.readmodel.signed import MAX_POSITION, read_signed
from services.readmodel.tables import PROJECTIONS

MODULES: Final[dict[str, ModuleType]] = {
    "care_costs": care_costs,
    "occupancy": occupancy,
    "intake": intake,
    "investigations": investigations,
    "budget": budget,
    "ekb": ekb,
    "workload": workload,
}
assert tuple(MODULES) == PROJECTIONS
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)


def _fail(field: str, reason: str) -> EventError:
    return EventError([Problem(field, reason)])


def decode_stored(payload: bytes | None, header_position: int | None = None) -> Event:
    """A message value as a validated stored event; EventError names the field and the reason."""
    if payload is None:
        raise _fail("", "message has no value")
    if len(payload) > MAX_EVENT_BYTES:
        raise _fail("", f"event is {len(payload)} bytes, over the limit of {MAX_EVENT_BYTES}")
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise _fail("", f"not valid JSON (or not UTF-8): {exc}") from None
    if not isinstance(raw, dict):
        raise _fail("", f"an event must be a JSON object, got {type(raw).__name__}")
    etype, version = raw.get("type"), raw.get("version", 1)
    if not isinstance(etype, str) or etype not in LATEST:
        raise _fail("type", f"unknown event type {etype!r}")
    if not isinstance(version, int) or isinstance(version, bool) or version not in KNOWN_VERSIONS[etype]:
        raise _fail("version", f"unknown version {version!r} of {etype}")
    try:
        event = ENVELOPES[etype].model_validate(upcast(raw))
    except ValidationError as exc:
        problems = [
            Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)
        ]
        raise EventError(problems) from None
    return _positioned(event, header_position)


# Where pydantic-core's JSON parser (jiter) and orjson read the same bytes differently, the fast path
# must not decide: escapes (a backslash anywhere) and integers of 20 or more digits (orjson turns an integer
# beyond 64 bits into a float, jiter keeps it exact). NaN/Infinity need no scan: no schema type accepts
# a non-finite number (there are no float or free-form fields; a unit test keeps it so), so the fast
# path rejects them and `decode_stored` words the reason. One `translate` marks both: digits -> `0`,
# a backslash stays, everything else -> space.
_MARKS: Final = bytes(48 if 48 <= b <= 57 else 92 if b == 92 else 32 for b in range(256))
_LONG_INTEGER: Final = b"0" * 20


@cache
def _envelopes() -> TypeAdapter[Event]:
    """All latest-version envelope models as one union discriminated on `type` (built on first use)."""
    union: Any = Union.__getitem__(tuple(ENVELOPES.values()))
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


def warm_up() -> None:
    """Build the validator before the first batch (a decoding process's initializer)."""
    _envelopes()


def _positioned(event: Event, header_position: int | None) -> Event:
    if event.position is None:
        raise _fail("position", "a published event must carry its store position")
    if event.position > MAX_POSITION:
        raise _fail("position", f"{event.position} is over the largest store position {MAX_POSITION}")
    if header_position is not None and header_position != event.position:
        raise _fail("position", f"header says {header_position}, envelope says {event.position}")
    return event


def decode_fast(payload: bytes | None, header_position: int | None = None) -> Event:
    """`decode_stored`, validating straight from the bytes (pydantic-core parses the JSON) when it can.

    The fast path takes the event only when the latest model of its type accepts the bytes as they
    are and the version was given (an event without `version` is version 1 and may need upcasting);
    everything else — old versions, invalid bytes, any rejection — goes through `decode_stored`,
    which upcasts and words the reason. Either way the same model validates every field.
    """
    if payload is None or len(payload) > MAX_EVENT_BYTES:
        return decode_stored(payload, header_position)
    marks = payload.translate(_MARKS)
    if b"\\" in marks or _LONG_INTEGER in marks:
        return decode_stored(payload, header_position)
    try:
        event = _envelopes().validate_json(payload)
    except ValidationError:
        return decode_stored(payload, header_position)
    if "version" not in event.model_fields_set and event.version != 1:
        return decode_stored(payload, header_position)
    return _positioned(event, header_position)


def utc_micros(value: datetime | None) -> int | None:
    """An aware datetime as whole µs since 1970 UTC (exact: timedelta arithmetic, no float)."""
    if value is None:
        return None
    return (value - EPOCH) // MICROSECOND


Item = tuple[bytes | None, int | None, bytes | None]  # (value, header position, signature header)
Chunk = tuple[int, list[Item]]  # (partition, items)


@dataclass(slots=True)
class Validated:
    """What the validating step hands back for a batch (compact: it crosses a process boundary).

    `positions[i]` is the store position of item i, 0 when it failed (the reason is `reasons[i]`);
    `facts` are the fact rows per projection (`FACT_COLUMNS` order, the body being the received
    bytes), each list in position order (a row's first field); `newest_appended_us` is the
    appended_at of the batch's highest position (the staleness metric's input).
    """

    positions: list[int]
    reasons: dict[int, str]
    facts: dict[str, list[tuple[Any, ...]]]
    newest_appended_us: int | None


def _row_position(row: tuple[Any, ...]) -> Any:
    return row[0]


def decode_batch(chunks: list[Chunk], key: bytes | None = None) -> Validated:
    """Validate every item of every partition's chunk and build the fact rows (pure, picklable).

    With the relay's signing `key`, an item whose signature verifies is read, not validated
    (`services.readmodel.signed`); every other item is validated in full (`decode_fast`)."""
    out = Validated([], {}, {}, None)
    positions, facts, top, newest = out.positions, out.facts, 0, None
    for partition, items in chunks:
        for payload, header, signature in items:
            signed = read_signed(key, payload, header, signature) if signature is not None else None
            names = _BY_TYPE.get(signed[1]) if signed is not None else None
            if signed is not None and names is not None:
                position, etype, recorded_us, appended_us = signed
            else:
                try:
                    e = decode_fast(payload, header)
                except EventError as exc:
                    out.reasons[len(positions)] = exc.message
                    positions.append(0)
                    continue
                position, etype, recorded_us = e.position, e.type, utc_micros(e.recorded_at)  # type: ignore[assignment]
                appended_us, names = utc_micros(e.appended_at), relevant(e)
                _BY_TYPE[etype] = names  # one payload class per type (events.registry)
            positions.append(position)
            if names:
                row = (position, partition, etype, recorded_us, payload)
                for name in names:
                    facts.setdefault(name, []).append(row)
            if position > top:
                top, newest = position, appended_us
    for rows in facts.values():
        rows.sort(key=_row_position)  # partitions' runs merged: inserted in key order, fewer page splits
    out.newest_appended_us = newest
    return out


_BY_TYPE: dict[str, tuple[str, ...]] = {}  # type -> relevant projections, learnt from a validated event
_RELEVANT: dict[type, tuple[str, ...]] = {}


def relevant(event: Event) -> tuple[str, ...]:
    """The projections whose state `event` changes (cached per payload class)."""
    cls = type(event.data)
    found = _RELEVANT.get(cls)
    if found is None:
        found = tuple(name for name, mod in MODULES.items() if mod.apply(mod.State(), event) != mod.State())
        _RELEVANT[cls] = found
    return found


def fact_row(event: Event, body: bytes, partition: int) -> tuple[Any, ...]:
    """One fact row, in the order of `FACT_COLUMNS` (a tuple: the hot path binds it as it is)."""
    return (event.position, partition, event.type, utc_micros(event.recorded_at), body)
