"""Property-based fuzzing of ingest: garbage interleaved with valid events loses nothing valid.

Each generated input is a JSONL stream mixing valid events (some repeated: duplicates), malformed,
truncated, mistyped, unknown-type, unknown-version, future-dated (recorded_at ahead of the store's
clock), personnummer-bearing and encoding-broken lines. Ingest into the in-memory store must accept
exactly the valid events once, report the duplicates, reject every bad line with its line number and
a reason, and never raise. Sizes: `CASESTREAM_TEST_SCALE` (small in CI).
"""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.ingest import ingest_lines
from services.store import open_store

SCALE = {"small": 1, "medium": 4, "large": 20}[os.environ.get("CASESTREAM_TEST_SCALE", "small")]
NOW = datetime(2021, 9, 1, 12, 0, tzinfo=UTC)


def _event(i: int, **override: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "event_id": str(uuid.UUID(int=i + 1, version=4)), "type": "case.actualised",
        "stream_id": f"case-{i}", "municipality": "1880", "occurred_at": "2021-03-01",
        "recorded_at": "2021-03-02T09:00:00+01:00",
        "data": {"person": f"p-{i:06d}", "channel": "report", "target_group": "children"},
    }
    raw.update(override)
    return raw


BAD_KINDS = ("not_json", "truncated", "array", "wrong_type", "unknown_type", "unknown_version",
             "future", "personnummer", "broken_utf8", "missing_field", "store_field")


def _bad_line(kind: str, i: int) -> bytes:
    good = orjson.dumps(_event(i))
    match kind:
        case "not_json":
            return b"{not json"
        case "truncated":
            return good[: len(good) // 2]
        case "array":
            return b"[1, 2, 3]"
        case "wrong_type":
            return orjson.dumps(_event(i, municipality=1880))
        case "unknown_type":
            return orjson.dumps(_event(i, type="case.nope"))
        case "unknown_version":
            return orjson.dumps(_event(i, version=99))
        case "future":
            return orjson.dumps(_event(i, recorded_at="2030-01-01T00:00:00+00:00"))
        case "personnummer":
            return orjson.dumps(_event(i, data={"person": "19811218-9876", "channel": "report",
                                                "target_group": "youth"}))
        case "broken_utf8":
            return good[:20] + b"\xff\xfe" + good[20:]
        case "missing_field":
            raw = _event(i)
            del raw["stream_id"]
            return orjson.dumps(raw)
        case _:
            return orjson.dumps(_event(i, position=7))


lines_strategy = st.lists(
    st.one_of(
        st.tuples(st.just("good"), st.integers(0, 40)),
        st.tuples(st.sampled_from(BAD_KINDS), st.integers(1000, 1040)),
    ),
    min_size=1, max_size=30,
)


@settings(max_examples=400 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines_strategy, st.integers(1, 7))
def test_ingest_keeps_every_valid_event_and_rejects_every_bad_line(spec: list[tuple[str, int]],
                                                                   batch: int) -> None:
    store = open_store("memory://", clock=lambda: NOW)
    payload = [orjson.dumps(_event(i)) if kind == "good" else _bad_line(kind, i) for kind, i in spec]
    rejects = io.BytesIO()
    report = ingest_lines(store, payload, rejects, batch_size=batch)
    good_ids = {i for kind, i in spec if kind == "good"}
    bad_lines = [n for n, (kind, _) in enumerate(spec, start=1) if kind != "good"]
    assert report.accepted == len(good_ids)
    assert report.duplicates == sum(1 for k, _ in spec if k == "good") - len(good_ids)
    assert report.rejected == len(bad_lines)
    stored = {e.stream_id for e in store.read_all()}
    assert stored == {f"case-{i}" for i in good_ids}
    written = [orjson.loads(x) for x in rejects.getvalue().splitlines()]
    assert sorted(w["line"] for w in written) == bad_lines
    assert all(w["problems"] and all(p["reason"] for p in w["problems"]) for w in written)
