"""The UI's access log: one JSON line per view, no figures, safe under concurrent sessions."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from pathlib import Path

from events.timeutil import Period
from services.queries_access import View, read_views, record_view

PERIOD = Period(date(2021, 1, 1), date(2021, 3, 31))


def test_a_view_is_one_line(tmp_path: Path) -> None:
    record_view(tmp_path / "var", View("page_forecast", PERIOD, "s1", date(2021, 4, 5)),
                at=datetime(2021, 4, 6, 8, 0, tzinfo=UTC))
    assert read_views(tmp_path / "var") == [{"at": "2021-04-06T08:00:00+00:00", "page": "page_forecast",
                                             "session": "s1", "from": "2021-01-01", "to": "2021-03-31",
                                             "reported_on": "2021-04-05"}]


def test_concurrent_sessions_never_interleave(tmp_path: Path) -> None:
    def many(session: str) -> None:
        for _ in range(200):
            record_view(tmp_path, View("page_overview", PERIOD, session))
    threads = [threading.Thread(target=many, args=(f"s{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    views = read_views(tmp_path)
    assert len(views) == 800 and {v["session"] for v in views} == {"s0", "s1", "s2", "s3"}


def test_nothing_logged_yet(tmp_path: Path) -> None:
    assert read_views(tmp_path) == []
