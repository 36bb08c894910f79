"""The row-by-row loop of replay: stored rows through the raw fold, the decoded path for the rest.

The columnar replay (`services.audit.columnar_loop`) takes this way for a page with a payload that
does not parse. Same inclusion, order and hashes as the decoded fold: the municipality of each event
is checked on the event too, and every included event's stored bytes go to the digest in position
order. Each payload is parsed once; the raw fold (`services.audit.rawfold`) takes what it can, the
rest is decoded from the same parse and handed to `take`. appended_at is parsed once per distinct
value (an append batch shares one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from projections.placement_compact import micros
from services.audit import rawfold
from services.audit.source import Stored, as_bytes, canonical_id, decoded, utc

Row = tuple[int, str, datetime, bytes, Any]


class Counted(Protocol):
    """What the loop updates besides the projection states (`replay.Snapshot`)."""

    municipalities: set[str]
    back_registered: int
    paths: Mapping[str, int]


def converted(rows: Iterable[Sequence[Any]]) -> Iterator[Row]:
    """(position, event id, appended_at, stored bytes, parsed JSON or None) of stored rows."""
    text, when = None, None
    for position, event_id, appended_at, body in rows:
        if appended_at != text or when is None:
            text, when = appended_at, utc(appended_at)
        raw = as_bytes(body)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = None
        yield position, canonical_id(event_id), when, raw, value


def fold_rows(rows: Iterable[Row], muni: str | None, snap: Counted, fold: rawfold.RawFold, digest: Any,
              take: Callable[[Stored], None]) -> None:
    """Fold given rows: the raw fold where it can, else `take(decoded item)` (the columnar replay's path
    for a page with a payload that does not parse)."""
    state = fold.state
    appended_at, appended_us = None, 0
    for position, event_id, appended, raw, value in rows:
        if fold.accepts(value):
            if muni is not None and value["municipality"] != muni:
                continue
            rec = fold.fold(value, position)
            if rec is not None:
                digest.add(position, event_id, raw)
                if appended is not appended_at:
                    appended_at, appended_us = appended, micros(appended)
                snap.municipalities.add(value["municipality"])
                snap.back_registered += rawfold.back_registered_us(appended_us, rec)
                state.events += 1
                state.last_position = max(state.last_position, position)
                continue
        item = decoded(position, event_id, appended, raw, value)
        if muni is not None and item.event is not None and item.event.municipality != muni:
            continue
        take(item)
