"""Decode and encode events: JSON bytes or dicts <-> validated `Event`s, with errors users can act on.

Every rejection says which field and why (`EventError`); readers of JSONL add the line number.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

import orjson
from pydantic import ValidationError

from events.envelope import Event
from events.privacy import mask_personnummer, scan_for_personnummer
from events.registry import ENVELOPES, KNOWN_VERSIONS, LATEST, upcast

MAX_EVENT_BYTES: Final = 64 * 1024
STORE_FIELDS: Final = ("position", "appended_at")
SEALED_FIELD: Final = "sealed"  # the personal part: set by the platform's write path, never by a producer


@dataclass(frozen=True, slots=True)
class Problem:
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


class EventError(ValueError):
    """An event was rejected; `problems` names each field and reason."""

    def __init__(self, problems: list[Problem], line: int | None = None) -> None:
        self.problems = problems
        self.line = line
        super().__init__(self.message)

    @property
    def message(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return where + "; ".join(str(p) for p in self.problems)

    def at_line(self, line: int) -> EventError:
        return EventError(self.problems, line)


def _fail(field: str, reason: str) -> EventError:
    return EventError([Problem(field, reason)])


def _from_validation(exc: ValidationError) -> EventError:
    problems = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        problems.append(Problem(loc, err["msg"]))
    return EventError(problems)


def decode_dict(raw: Any, *, from_store: bool = False) -> Event:
    """Validate a decoded JSON value as an event of a known type (upcast to its latest version).

    Input from outside may not carry the store's own fields; events read back from the store do.
    """
    if not isinstance(raw, dict):
        raise _fail("", f"an event must be a JSON object, got {type(raw).__name__}")
    etype = raw.get("type")
    if not isinstance(etype, str) or etype not in LATEST:
        known = ", ".join(sorted(LATEST))
        raise _fail("type", f"unknown event type {etype!r} (known: {known})")
    version = raw.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version not in KNOWN_VERSIONS[etype]:
        raise _fail("version", f"unknown version {version!r} of {etype} (known: {KNOWN_VERSIONS[etype]})")
    if not from_store:
        for f in STORE_FIELDS:
            if f in raw:
                raise _fail(f, "is set by the event store and may not be given")
        if SEALED_FIELD in raw:
            raise _fail(SEALED_FIELD, "is set by the platform when it seals the personal fields and may "
                                      "not be given; send the personal fields in data")
    found = scan_for_personnummer(raw)
    if found is not None:
        raise _fail(found[0], f"contains a Swedish personnummer ({found[1]}); "
                              "only pseudonymous ids are allowed")
    try:
        return ENVELOPES[etype].model_validate(upcast(raw))
    except ValidationError as exc:
        raise _from_validation(exc) from None


def decode(payload: bytes | str, *, from_store: bool = False) -> Event:
    if len(payload) > MAX_EVENT_BYTES:
        raise _fail("", f"event is {len(payload)} bytes, over the limit of {MAX_EVENT_BYTES}")
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise _fail("", f"not valid JSON (or not UTF-8): {exc}") from None
    return decode_dict(raw, from_store=from_store)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        as_int = int(value)
        if as_int == value:
            return as_int
        as_float = float(value)
        return as_float if Decimal(repr(as_float)) == value else str(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def to_dict(event: Event, *, with_store_fields: bool = True) -> dict[str, Any]:
    """The wire dict of an event (Python values; money stays Decimal)."""
    out = event.model_dump(exclude_none=False)
    if out.get(SEALED_FIELD, 0) is None:  # unsealed events keep the bytes they always had
        del out[SEALED_FIELD]
    if not with_store_fields:
        for f in STORE_FIELDS:
            out.pop(f, None)
    else:
        for f in STORE_FIELDS:
            if out.get(f) is None:
                out.pop(f, None)
    return out


def encode(event: Event, *, with_store_fields: bool = True) -> bytes:
    """Canonical JSON bytes of an event (sorted keys, so equal events give equal bytes)."""
    return orjson.dumps(
        to_dict(event, with_store_fields=with_store_fields),
        default=_default,
        option=orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS,
    )


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    text: str
    error: EventError


def read_jsonl(lines: Iterable[bytes | str]) -> Iterator[Event | Rejected]:
    """Decode JSONL: yields each event, or a `Rejected` naming the line, field and reason."""
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped:
            continue
        try:
            yield decode(stripped)
        except EventError as exc:
            text = stripped.decode("utf-8", "replace") if isinstance(stripped, bytes) else stripped
            yield Rejected(number, mask_personnummer(text)[:500], exc.at_line(number))
