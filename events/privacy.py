"""Personnummer detection: the platform holds pseudonymous ids only.

A Swedish personnummer (or samordningsnummer) is YYMMDD-NNNN / YYMMDD+NNNN / YYYYMMDDNNNN with a
valid date part (day + 60 for samordningsnummer) and a valid Luhn check digit. Ingest rejects any
event holding one in any string or integer value, with or without century, dash or plus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any, Final

# Fields that hold machine-made UUIDs (validated as UUIDs by the envelope models). A random uuid4
# has a date- and Luhn-valid YYYYMMDD-NNNN across its first groups about once in 10 000, so scanning
# them would reject honest producers; a canonical UUID in one of these fields is not scanned.
UUID_FIELDS: Final = frozenset({"event_id", "retracted_event_id"})
# The sealed personal part (base64 ciphertext) is made by the platform from fields already scanned.
SKIPPED_TOP_LEVEL: Final = frozenset({"sealed"})
_UUID: Final = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

_PNR: Final = re.compile(
    r"(?<![0-9])((?:18|19|20)?)([0-9]{2})([0-9]{2})([0-9]{2})[-+ ]?([0-9]{3})([0-9])(?![0-9])"
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _date_ok(century: str, yy: str, mm: str, dd: str) -> bool:
    day = int(dd)
    if day > 60:  # samordningsnummer
        day -= 60
    year = int(century + yy) if century else 2000 + int(yy)
    try:
        date(year, int(mm), day)
    except ValueError:
        return False
    return True


def find_personnummer(text: str) -> str | None:
    """The first personnummer-shaped, date-valid, Luhn-valid number in `text`, else None."""
    for m in _PNR.finditer(text):
        century, yy, mm, dd, serial, check = m.groups()
        if _date_ok(century, yy, mm, dd) and _luhn_ok(yy + mm + dd + serial + check):
            return m.group(0)
    return None


def mask_personnummer(text: str) -> str:
    """`text` with every personnummer in it masked (all but its first two digits), e.g. for a rejects file."""
    def mask(m: re.Match[str]) -> str:
        century, yy, mm, dd, serial, check = m.groups()
        if _date_ok(century, yy, mm, dd) and _luhn_ok(yy + mm + dd + serial + check):
            return m.group(0)[:2] + "*" * (len(m.group(0)) - 2)
        return m.group(0)
    return _PNR.sub(mask, text)


def _walk(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        yield path, str(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if not path and k in SKIPPED_TOP_LEVEL:
                continue
            yield path + "." + str(k) if path else str(k), str(k)
            if k in UUID_FIELDS and isinstance(v, str) and _UUID.fullmatch(v):
                continue
            yield from _walk(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def scan_for_personnummer(raw: Any) -> tuple[str, str] | None:
    """(field path, masked match) of the first personnummer anywhere in a decoded JSON value.

    The number is masked in the path too (it is there when the personnummer is a key), so an error
    message or a rejects file never repeats it.
    """
    for path, text in _walk(raw, ""):
        found = find_personnummer(text)
        if found is not None:
            masked = found[:2] + "*" * (len(found) - 2)
            return path.replace(found, masked), masked
    return None
