"""The signed-origin fast path of the worker: a message the relay signed is read, not re-validated.

Trust argument (docs/design.md "Pipeline", "Signed origin"): every event on the topic that carries a
valid `signature` header was published by the relay from the store, and the store holds only what
`ingest` validated at append (schema, personnummer scan, every model validator). The signature
(`services.kafka.signing`) proves that origin for exactly these bytes at exactly this position, so
validating the content again proves nothing new. For such a message `read_signed` takes from an orjson
parse only what the fact row needs — position, type, recorded_at, appended_at — and the row's body is
the received bytes, exactly the row the full path builds.

Anything unusual returns None and the caller validates the message in full (and dead-letters it with
its reason when it fails): no key, no or a wrong signature, a value over the size limit, not a JSON
object, an unknown type, a version other than the latest of its type or none given (older versions
need upcasting), a position that is not the header's or beyond BIGINT, a time that is not in the
store's canonical ISO form with an offset.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson

from events.codec import MAX_EVENT_BYTES
from events.registry import LATEST
from services.kafka.signing import verifies

EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND: Final = timedelta(microseconds=1)
MAX_POSITION: Final = 2**63 - 1  # the read model's BIGINT (SQLite INTEGER)
LATEST_VERSION: Final[dict[str, int]] = {t: p.VERSION for t, p in LATEST.items()}
_CANONICAL_LENGTHS: Final = (25, 32)  # YYYY-MM-DDTHH:MM:SS+HH:MM, with .ffffff


class _Unusual(Exception):
    """The message is not in the form the relay publishes: validate it in full."""


_SEEN: dict[str, int] = {}  # canonical time text -> UTC µs (parsing one with an offset costs ~3 µs)
_SEEN_MAX: Final = 200_000


def _micros(value: Any) -> int | None:
    """recorded_at / appended_at in the store's canonical form as UTC µs (None stays None)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Unusual
    found = _SEEN.get(value)
    if found is not None:
        return found
    if len(value) not in _CANONICAL_LENGTHS or value[10] != "T":
        raise _Unusual
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Unusual from None
    if parsed.tzinfo is None:
        raise _Unusual
    if len(_SEEN) >= _SEEN_MAX:
        _SEEN.clear()
    found = _SEEN[value] = (parsed - EPOCH) // MICROSECOND
    return found


def read_signed(
    key: bytes | None, payload: bytes | None, header: int | None, signature: bytes | None
) -> tuple[int, str, int | None, int | None] | None:
    """(position, type, recorded_us, appended_us) of a verified message of the latest version, else None."""
    if key is None or signature is None or payload is None or len(payload) > MAX_EVENT_BYTES:
        return None
    if not verifies(key, payload, header, signature):
        return None
    try:
        raw = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(raw, dict):
        return None
    etype, version, position = raw.get("type"), raw.get("version"), raw.get("position")
    if not isinstance(etype, str) or LATEST_VERSION.get(etype) != version or type(version) is not int:
        return None
    if type(position) is not int or position != header or not 0 < position <= MAX_POSITION:
        return None
    try:
        return position, etype, _micros(raw.get("recorded_at")), _micros(raw.get("appended_at"))
    except _Unusual:
        return None
