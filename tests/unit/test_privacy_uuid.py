"""Event ids are uuid4s; about 1 in 10 000 has a date- and Luhn-valid YYYYMMDD-NNNN in its first
groups. Such an id must not get an honest event rejected, while a personnummer elsewhere still is."""

from __future__ import annotations

import uuid

import pytest

from events.codec import EventError, decode_dict
from events.privacy import find_personnummer

# A uuid whose first groups read 19811218-9876 (a valid date and Luhn digit).
PNR_SHAPED_UUID = "19811218-9876-4abc-8def-0123456789ab"


def _actualised(event_id: str, person: str = "p-1880-000001") -> dict[str, object]:
    return {
        "event_id": event_id, "type": "case.actualised", "stream_id": "case-1", "municipality": "1880",
        "occurred_at": "2021-03-01", "recorded_at": "2021-03-01",
        "data": {"person": person, "channel": "report", "target_group": "children"},
    }


def test_the_uuid_really_is_personnummer_shaped() -> None:
    assert find_personnummer(PNR_SHAPED_UUID) is not None
    uuid.UUID(PNR_SHAPED_UUID)


def test_pnr_shaped_event_id_is_accepted() -> None:
    assert str(decode_dict(_actualised(PNR_SHAPED_UUID)).event_id) == PNR_SHAPED_UUID


def test_pnr_shaped_retracted_event_id_is_accepted() -> None:
    raw = {**_actualised(str(uuid.UUID(int=7, version=4))), "type": "event.retracted",
           "data": {"retracted_event_id": PNR_SHAPED_UUID, "reason": "felregistrering"}}
    assert decode_dict(raw).type == "event.retracted"


def test_personnummer_outside_uuid_fields_is_still_rejected() -> None:
    with pytest.raises(EventError) as exc:
        decode_dict(_actualised(str(uuid.UUID(int=8, version=4)), person="198112189876"))
    assert "data.person" in exc.value.message


def test_non_uuid_event_id_is_still_scanned() -> None:
    with pytest.raises(EventError) as exc:
        decode_dict(_actualised("19811218-9876"))
    assert "event_id" in exc.value.message
