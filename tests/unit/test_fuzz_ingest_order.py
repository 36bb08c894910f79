"""Property-based fuzzing of ingest order: valid events that arrive out of order are all kept, and the
figures do not depend on the order of arrival.

Late registration is normal in this domain (BRIEF §8, CONVENTIONS: the two clocks), so a placement's
end, repricing or correction may reach the store before its start. Each example builds placements
(started, maybe repriced, maybe ended) and shuffles the lines; ingest must accept every event once
(a repeated line is a duplicate), and every report of the shuffled store must equal the report of the
store loaded in business order. Sizes: `CASESTREAM_TEST_SCALE` (small in CI).
"""

from __future__ import annotations

import io
import os
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.timeutil import Period
from services.ingest import ingest_lines
from services.reports import REPORT_NAMES, build_report
from services.settings import Settings
from services.store import open_store

SCALE = {"small": 1, "medium": 4, "large": 20}[os.environ.get("CASESTREAM_TEST_SCALE", "small")]
NOW = datetime(2021, 12, 31, 12, 0, tzinfo=UTC)
PERIOD = Period(date(2021, 1, 1), date(2021, 8, 31))
START = date(2021, 1, 1)


def _line(n: int, kind: str, pid: str, day: int, data: dict[str, Any]) -> bytes:
    on = START + timedelta(days=day)
    return orjson.dumps({
        "event_id": str(uuid.UUID(int=n + 1, version=4)), "type": kind, "stream_id": pid,
        "municipality": "1880", "occurred_at": on.isoformat(),
        "recorded_at": f"{on.isoformat()}T12:00:00+00:00",
        "data": {"placement_id": pid, **data},
    })


placement = st.tuples(st.integers(0, 150),  # every day before NOW (no future-dated line)
                      st.none() | st.integers(1, 60), st.none() | st.integers(1, 120),
                      st.sampled_from(["institution", "family_home_external"]),
                      st.sampled_from(["children", "youth"]), st.integers(500, 6000))


def _lines(spec: list[tuple[int, int | None, int | None, str, str, int]]) -> list[bytes]:
    out: list[bytes] = []
    for i, (start, repriced, ended, category, group, price) in enumerate(spec):
        pid = f"pl-{i}"
        out.append(_line(len(out), "placement.started", pid, start, {
            "case_id": f"case-{i}", "category": category, "legal_basis": "SoL", "person": f"psn-{i:04d}",
            "price_sek": price, "price_unit": "day", "regime": "purchased", "sex": "female",
            "target_group": group, "unit_id": None}))
        if repriced is not None:
            out.append(_line(len(out), "placement.repriced", pid, start + repriced,
                             {"price_sek": price + 250, "price_unit": "day"}))
        if ended is not None:
            out.append(_line(len(out), "placement.ended", pid, start + ended + (repriced or 0),
                             {"reason": "planned"}))
    return out


def _reports(lines: list[bytes]) -> dict[str, bytes]:
    store = open_store("memory://", clock=lambda: NOW)
    report = ingest_lines(store, lines, io.BytesIO(), batch_size=3)
    assert report.rejected == 0
    settings = Settings()
    return {n: orjson.dumps([r for r in build_report(store, n, PERIOD, None, settings).rows], default=str)
            for n in REPORT_NAMES}


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(placement, min_size=1, max_size=12), st.randoms(use_true_random=False), st.integers(0, 3))
def test_out_of_order_arrival_keeps_every_event_and_changes_no_figure(
        spec: list[tuple[int, int | None, int | None, str, str, int]], rnd: Any, repeats: int) -> None:
    ordered = _lines(spec)
    shuffled = ordered + [ordered[rnd.randrange(len(ordered))] for _ in range(repeats)]  # duplicates
    rnd.shuffle(shuffled)
    store = open_store("memory://", clock=lambda: NOW)
    report = ingest_lines(store, shuffled, io.BytesIO(), batch_size=4)
    assert (report.accepted, report.duplicates, report.rejected) == (len(ordered), repeats, 0)
    assert _reports(shuffled) == _reports(ordered)
