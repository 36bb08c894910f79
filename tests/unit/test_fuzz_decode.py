"""Property-based fuzzing of the decode step every input passes (ingest and the consumer side).

Malformed, truncated, oversized, wrongly typed, unknown-type, unknown-version and encoding-broken
events are thrown at `events.decode`; every one must be rejected with an `EventError` that names a
reason (and a field where one is at fault), never another exception, never a hang. Valid events
around them must keep decoding. Sizes: `CASESTREAM_TEST_SCALE` (small in CI: 10 000+ inputs in all).
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.codec import MAX_EVENT_BYTES, EventError, decode
from events.registry import LATEST

SCALE = {"small": 1, "medium": 4, "large": 20}[os.environ.get("CASESTREAM_TEST_SCALE", "small")]
FUZZ = settings(max_examples=2500 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))


def _valid(i: int = 1) -> dict[str, Any]:
    return {
        "event_id": str(uuid.UUID(int=i, version=4)), "type": "placement.started", "version": 2,
        "stream_id": f"pl-{i}", "municipality": "1880", "occurred_at": "2021-03-01",
        "recorded_at": "2021-03-02T09:00:00+01:00",
        "data": {"placement_id": f"pl-{i}", "person": f"p-{i:06d}", "category": "institution",
                 "regime": "purchased", "target_group": "youth", "legal_basis": "LVU", "sex": "female",
                 "price_sek": 4803, "price_unit": "day"},
    }


VALID = orjson.dumps(_valid())
int64 = st.integers(-(2**63), 2**63 - 1)  # orjson's range
floats = st.floats(allow_nan=False, allow_infinity=False)
scalars = st.none() | st.booleans() | int64 | floats | st.text(max_size=30)
json_values = st.recursive(
    scalars,
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=10), kids, max_size=4),
    max_leaves=12,
)


def _rejected(payload: bytes | str) -> EventError | None:
    try:
        decode(payload)
    except EventError as exc:
        assert exc.message, "a rejection must say why"
        return exc
    return None


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(payload: bytes) -> None:
    _rejected(payload)


@FUZZ
@given(st.integers(min_value=0, max_value=len(VALID) - 1))
def test_truncated_events_are_rejected(cut: int) -> None:
    assert _rejected(VALID[:cut]) is not None


@FUZZ
@given(st.sampled_from(sorted(_valid())), json_values)
def test_wrongly_typed_envelope_fields_name_the_field(field: str, value: Any) -> None:
    raw = _valid()
    if raw[field] == value:
        return
    raw[field] = value
    exc = _rejected(orjson.dumps(raw))
    if exc is not None and field not in ("type", "version"):
        assert exc.problems and all(p.reason for p in exc.problems)


@FUZZ
@given(st.sampled_from(sorted(_valid()["data"])), json_values)
def test_wrongly_typed_data_fields_are_rejected_with_a_field(field: str, value: Any) -> None:
    raw = _valid()
    raw["data"][field] = value
    exc = _rejected(orjson.dumps(raw))
    if exc is not None:
        assert all(p.reason for p in exc.problems)


@FUZZ
@given(st.text(min_size=1, max_size=30).filter(lambda t: t not in LATEST), int64)
def test_unknown_type_or_version(etype: str, version: int) -> None:
    raw = _valid()
    raw["type"] = etype
    exc = _rejected(orjson.dumps(raw))
    assert exc is not None and exc.problems[0].field == "type"
    raw = _valid()
    raw["version"] = version
    if version not in (1, 2):
        exc = _rejected(orjson.dumps(raw))
        assert exc is not None and exc.problems[0].field == "version"


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=1, max_value=4))
def test_oversized_events_are_rejected(factor: int) -> None:
    raw = _valid()
    raw["data"]["reason"] = "x" * (MAX_EVENT_BYTES * factor)
    exc = _rejected(orjson.dumps(raw))
    assert exc is not None and "over the limit" in exc.message


@FUZZ
@given(st.binary(min_size=1, max_size=8), st.integers(min_value=0, max_value=len(VALID)))
def test_encoding_broken_bytes_inside_an_event(junk: bytes, at: int) -> None:
    payload = VALID[:at] + b"\xff" + junk + VALID[at:]
    assert _rejected(payload) is not None


def test_valid_event_still_decodes() -> None:
    assert decode(VALID).type == "placement.started"
