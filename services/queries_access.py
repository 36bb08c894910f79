"""Access log of the UI's views (CONVENTIONS §7: the UI records views through a services function).

One JSON line per page view in `<var_dir>/ui-access.jsonl`: when (UTC), which page, the business period,
the "as reported on" day when one is chosen, and the session's opaque id. Nothing the page shows is
logged (no figures, no persons). The log is a file beside the other runtime files, not the event store:
the UI never writes the store. Appends are serialised by a lock, so concurrent sessions never interleave
half lines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

from events.timeutil import Period

_LOCK = threading.Lock()
LOG_NAME = "ui-access.jsonl"


@dataclass(frozen=True, slots=True)
class View:
    page: str
    period: Period
    session: str
    reported_on: date | None = None


def access_log_path(var_dir: Path) -> Path:
    return var_dir / LOG_NAME


def record_view(var_dir: Path, view: View, *, at: datetime | None = None) -> None:
    """Append one view to the access log (the folder is created when missing)."""
    line = {"at": (at or datetime.now(UTC)).isoformat(), "page": view.page, "session": view.session,
            "from": view.period.start.isoformat(), "to": view.period.end.isoformat(),
            "reported_on": None if view.reported_on is None else view.reported_on.isoformat()}
    path = access_log_path(var_dir)
    with _LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as out:
            out.write(orjson.dumps(line) + b"\n")


def read_views(var_dir: Path) -> list[dict[str, object]]:
    """The logged views, oldest first (empty when nothing was logged yet)."""
    path = access_log_path(var_dir)
    if not path.exists():
        return []
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines() if raw.strip()]
