"""Signed origin of case-events messages: the relay signs each message, the worker verifies it (issue 11).

The relay publishes only events the store holds, and the store holds only what `ingest` validated at
append. The header `signature` is a keyed BLAKE2b (16 bytes) over the `position` header and the
message value, so a worker can tell a message the relay published from anything else on the topic
(a forged or foreign message, a flipped byte, a valid signature moved to another position) and skip
re-validating the content of the former. Anything that does not verify is validated in full.

The key: `CASESTREAM_PIPELINE_SIGNING_KEY` (hex) when set (a deployment over several hosts sets it),
else a random 32-byte key created once in the read-model database (`pipeline_key` table), which the
relay and the workers share already (the relay's position lives there too).
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Final

from sqlalchemy import select
from sqlalchemy.engine import Engine

from services.readmodel.persist import insert_ignore
from services.readmodel.tables import PipelineKey
from services.settings import Settings

SIGNATURE_HEADER: Final = "signature"
POSITION_HEADER: Final = "position"  # the same name as services.kafka.producer.POSITION_HEADER
KEY_NAME: Final = "case-events"
_PERSON: Final = b"casestream-sig1"  # BLAKE2b personalisation: these signatures, version 1
DIGEST_SIZE: Final = 16


class BadSigningKey(ValueError):
    """CASESTREAM_PIPELINE_SIGNING_KEY is not 32 to 128 hex digits."""


@functools.lru_cache(maxsize=8)
def _keyed(key: bytes) -> hashlib.blake2b:
    """The hasher with the key absorbed; copied per message (half the cost of keying a new one)."""
    return hashlib.blake2b(key=key, digest_size=DIGEST_SIZE, person=_PERSON)


def sign(key: bytes, value: bytes, position: int) -> bytes:
    """The signature of a message: keyed BLAKE2b over the decimal position, a newline and the value."""
    h = _keyed(key).copy()
    h.update(str(position).encode())
    h.update(b"\n")
    h.update(value)
    return h.digest()


def verifies(key: bytes, value: bytes | None, position: int | None, signature: bytes | None) -> bool:
    """True only when `signature` is the relay's for exactly this value at exactly this position."""
    if value is None or position is None or signature is None or len(signature) != DIGEST_SIZE:
        return False
    return hmac.compare_digest(sign(key, value, position), signature)


def position_and_signature(headers: Iterable[tuple[str, bytes]] | None) -> tuple[int | None, bytes | None]:
    """The `position` header (positive int, else None, as `header_position`) and the `signature` header."""
    position: int | None = None
    signature: bytes | None = None
    seen_position = False
    for name, value in headers or ():
        if name == POSITION_HEADER and not seen_position:
            seen_position = True
            try:
                pos = int(value)
            except (TypeError, ValueError):
                continue
            position = pos if pos > 0 else None
        elif name == SIGNATURE_HEADER and signature is None and isinstance(value, bytes):
            signature = value
    return position, signature


def _from_setting(text: str) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise BadSigningKey("CASESTREAM_PIPELINE_SIGNING_KEY is not hexadecimal") from None
    if not 16 <= len(key) <= 64:
        raise BadSigningKey(
            f"CASESTREAM_PIPELINE_SIGNING_KEY is {len(key)} bytes; it must be 16 to 64 (32 to 128 hex digits)"
        )
    return key


def pipeline_key(engine: Engine, settings: Settings) -> bytes:
    """The signing key: the setting, else the read-model database's (created once, race-free: the first
    insert wins, every process reads the row back)."""
    if settings.pipeline_signing_key is not None:
        return _from_setting(settings.pipeline_signing_key.get_secret_value())
    table = PipelineKey.__table__  # type: ignore[attr-defined]
    table.create(engine, checkfirst=True)
    with engine.begin() as conn:
        conn.execute(insert_ignore(conn, table), [{"name": KEY_NAME, "key_hex": secrets.token_hex(32)}])
        found = conn.execute(select(table.c.key_hex).where(table.c.name == KEY_NAME)).scalar_one()
    return bytes.fromhex(found)
