"""The fast rebuild loop of replay over a SQL store: raw rows, the raw fold, the decoded path for the rest.

Same inclusion, order and hashes as `services.audit.source.included` followed by the decoded fold
(`services.audit.replay.rebuild`): rows come page by page in position order (recorded by known_at,
of the municipality, up to the head), the municipality of each event is checked on the event too,
and every included event's stored bytes go to the digest in position order. Each payload is parsed
once; the raw fold (`services.audit.rawfold`) takes what it can, the rest is decoded from the same
parse and handed to `take`, the decoded path. appended_at is parsed once per distinct value (an
append batch shares one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import orjson

from events.timeutil import as_aware
from projections.placement_compact import micros
from services.audit import rawfold
from services.audit.source import PAGE, Scope, Stored, as_bytes, canonical_id, decoded, sql_page, utc
from services.store.sql import SqlStore

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


def raw_rows(store: SqlStore, scope: Scope) -> Iterator[Row]:
    """The rows in scope, converted (`converted`), page by page in position order."""
    cutoff = None if scope.known_at is None else as_aware(scope.known_at)
    after = 0
    while True:
        rows = sql_page(store, after, cutoff, scope.municipality)
        for row in converted(rows):
            if scope.upto is not None and row[0] > scope.upto:
                return
            yield row
        if len(rows) < PAGE:
            return
        after = rows[-1][0]


def run(store: SqlStore, scope: Scope, snap: Counted, fold: rawfold.RawFold, digest: Any,
        take: Callable[[Stored], None]) -> None:
    """Fold every included row: the raw fold where it can, else `take(decoded item)`."""
    fold_rows(raw_rows(store, scope), scope.municipality, snap, fold, digest, take)


def fold_rows(rows: Iterable[Row], muni: str | None, snap: Counted, fold: rawfold.RawFold, digest: Any,
              take: Callable[[Stored], None]) -> None:
    """The loop of `run` over given rows (the columnar replay's path for a page that does not parse)."""
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
