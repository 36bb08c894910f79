"""Sealing a payload's personal fields: AES-256-GCM with the event id as associated data.

* One random 256-bit key per key holder (a person pseudonym, or `stream:<id>` for an event that names
  no person), kept in the key store (`services.privacy.keystore`), never in the event log.
* The plaintext is the canonical JSON (sorted keys) of the personal fields that are set.
* Associated data = the event id: a sealed part copied onto another event does not open.
* The nonce is HMAC-SHA256(key, event id ‖ plaintext) cut to 96 bits (the synthetic-IV construction):
  the same event sealed twice gives the same bytes, so an idempotent re-append is still a duplicate
  and not a conflict, and two different plaintexts never share a nonce under one key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from typing import Any, Final
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.envelope import Sealed

ALG: Final = "AES-256-GCM"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class SealError(Exception):
    """A sealed part cannot be opened (wrong key, wrong event, damaged, or the key is shredded)."""


def new_key() -> bytes:
    """A fresh random 256-bit key (os.urandom)."""
    return os.urandom(KEY_BYTES)


@lru_cache(maxsize=1024)
def _cipher(key: bytes) -> AESGCM:
    """The AES-GCM object of a key (its key schedule is most of a small seal's cost; a batch reuses it)."""
    return AESGCM(key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def seal(key: bytes, key_id: str, event_id: UUID, fields: dict[str, Any]) -> Sealed:
    """The sealed form of `fields` for the event `event_id` under the key `key_id`."""
    plaintext = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)
    aad = event_id.bytes
    nonce = hmac.new(key, aad + plaintext, hashlib.sha256).digest()[:NONCE_BYTES]
    ciphertext = _cipher(key).encrypt(nonce, plaintext, aad)
    return Sealed(alg=ALG, key=key_id, nonce=_b64(nonce), ciphertext=_b64(ciphertext))


def unseal(key: bytes, sealed: Sealed, event_id: UUID) -> dict[str, Any]:
    """The personal fields of a sealed part; SealError when it does not open for this event and key."""
    try:
        nonce = base64.b64decode(sealed.nonce, validate=True)
        ciphertext = base64.b64decode(sealed.ciphertext, validate=True)
        plaintext = AESGCM(key).decrypt(nonce, ciphertext, event_id.bytes)
    except (InvalidTag, ValueError) as exc:
        raise SealError(f"the sealed part does not open for event {event_id} with key {sealed.key!r} "
                        f"(wrong event, wrong key or damaged): {type(exc).__name__}") from None
    fields = orjson.loads(plaintext)
    if not isinstance(fields, dict):
        raise SealError(f"the sealed part of event {event_id} is not an object")
    return fields
