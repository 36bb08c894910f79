"""Prepared checkpoints: every municipality's replay state at month ends of record time, made ahead.

A replay of a scope that has a checkpoint at or before its known-at reads, hashes and folds only the
rows after it (`services.audit.checkpoint`). Without one it reads every included row from the first
position: on the 10 M store one municipality as known at the end of 2022 is 1.44 M rows, 5.0 s on two
cores, and reading those rows through the municipality's index and hashing them for the proof is more
than 1 s of CPU on its own. So for a first replay of a scope to take under a second the state has to
be kept from before. `casestream prepare-replay` makes it before anyone asks: for each municipality,
one pass in position order (a replay as known at each chosen month end in turn, each resumed from the
last) that keeps a prefix checkpoint as known at the end of those months (`events.timeutil.end_of_day`
of the last day, as `--known-at YYYY-MM-DD` reads a date). A replay as known at any later time then
starts from the latest one before it.

* *Which month ends.* By default every month end of the whole history, so a replay as known at any
  time folds at most a month of rows (with the cuts below, at most 25 000: on the 10 M store such a
  first replay took 0.83-0.94 s in the bench, over a second in two of five runs). The states are kept
  compressed (`checkpoint_state.packed`, 0.39 of their pickled bytes at 10 M), so the 73 month ends of
  that store's history take about the storage 28 uncompressed ones took. With `months` N, only the
  latest N months keep every month end, and older ones only each tertial's end (30 April, 31 August,
  31 December: the report dates, "as reported on 31 August"): less storage, and a replay as known at
  a time between two older tertial ends folds up to four months of rows (1.8-2.6 s at 10 M). Prepared
  checkpoints that fall out of the choice are removed by the next run.
* *Months of many rows.* Where every month end is kept, a month in which more than `ROWS_BETWEEN`
  rows of the municipality were recorded is cut at day ends as well (`cuts`), so a first replay as
  known at any time in it folds at most that many rows and the rest of a day's. A municipality of
  real size (the demo's two years, 104 851 events: 4 400 a month) is never cut; the 10 M store's
  (42 000 a month) is cut once a month.
* *Which projections.* Those of every current report (`report_projections`); a replay of fewer takes
  such a checkpoint too (`Checkpoints.find`: these or more) and folds them all from there.
* *Incremental.* A run resumes each municipality from its latest prepared checkpoint that is still
  sound (the tests a replay makes: code, store, edit log, retraction targets, files) and makes only
  the month ends after it (where a wider choice than the runs before adds points below it that rows
  need, from the one before the first of those: `_first_missing`); a run of new code (another
  fingerprint) starts from the first position.
  Month ends are made up to the last one before the municipality's last recorded row and before
  `until` (default: now): a month whose end has not passed in the store is not yet a month end. A
  month end with no row of the municipality since the one before gets none (a replay takes that one,
  at the same position). Rows appended later that were recorded earlier (late registrations) lie above
  every checkpoint's position and are folded by the replay that includes them.
* *One manifest per municipality.* The pass's digest writes one manifest file, and each checkpoint's
  manifest is a hard link to it with its own length (its first bytes never change: whole gzip members,
  appended to only). A run resumed from a checkpoint writes a new file that starts with a copy of the
  old one's lines; the checkpoints that shared the old file are then linked to the new one, whose first
  bytes are theirs, so a municipality's prepared checkpoints hold one manifest between them.
* *One run at a time*, and the leftovers of a killed run removed by the next (`prepare_folder`).
* *Not a way in.* Trusted like every checkpoint, as the store's own; `casestream verify` never reads
  them. A row edited behind the store's back voids those above it, which the next run makes anew.
"""

from __future__ import annotations

import calendar
import logging
import os
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final
from uuid import UUID

from sqlalchemy import func, select

from events.timeutil import STOCKHOLM, as_aware, end_of_day
from projections.definitions import CURRENT, DEFINITIONS, needs
from services.audit import digest as dg
from services.audit import pages, parallel
from services.audit.checkpoint import Checkpoints, Found
from services.audit.prepare_folder import exclusive, sweep
from services.audit.replay import Snapshot, rebuild
from services.audit.source import Scope, retraction_targets
from services.store.sql import SqlStore
from services.store.tables import events_table as ev

log = logging.getLogger(__name__)


def report_projections() -> frozenset[str]:
    """The projections every current report reads together: what prepared checkpoints fold."""
    out: set[str] = set()
    for name, version in CURRENT.items():
        out |= needs(name, version, DEFINITIONS)
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Prepared:
    """What a run did for one municipality."""

    municipality: str
    made: int  # checkpoints written
    resumed: datetime | None  # the month end it went on from (None: from the first position)
    last: datetime | None  # the last month end it has now (None: none)
    events: int  # rows read and folded in this run
    seconds: float
    stopped: str | None = None  # why it stopped before the last month end (an event that does not decode)


TERTIAL_ENDS: Final = (4, 8, 12)  # months whose end is a tertial's
# The most rows of a municipality recorded between two prepared checkpoints where every month end is
# kept: a month with more is cut at day ends (`cuts`). Measured on the 10 M store (one municipality,
# 42 000 rows a month): a first replay as known at 29 November, folding 28 days of rows after the
# checkpoint at 31 October, took 0.99-1.15 s; at 15 June, half a month after one, 0.69-0.74 s.
ROWS_BETWEEN: Final = 25_000


def chosen(ends: Sequence[datetime], months: int | None = None) -> list[datetime]:
    """The month ends (in order) prepared checkpoints are kept at: all (`months` None), else tertial
    ends and the latest `months`."""
    if months is None:
        return list(ends)
    recent = set(ends[-months:]) if months > 0 else set()
    return [e for e in ends if e in recent or e.month in TERTIAL_ENDS]


def cuts(store: SqlStore, municipality: str, ends: Sequence[datetime], kept: Sequence[datetime],
         rows: int = ROWS_BETWEEN) -> list[datetime]:
    """`kept` (chosen from the month ends `ends`, in order) and, within each month whose end and the one
    before are both kept (or that is the first), the day ends (Stockholm) after which more than `rows`
    rows of the municipality were recorded since the point before: every part then holds at most
    `rows` rows and the rest of one day's."""
    out, keep = list[datetime](), set(kept)
    for i, end in enumerate(ends):
        if end not in keep:
            continue
        if i == 0 or ends[i - 1] in keep:
            after = ends[i - 1] if i else None
            while (day := _day_after_rows(store, municipality, after, end, rows)) is not None:
                out.append(day)
                after = day
        out.append(end)
    return out


def _day_after_rows(store: SqlStore, municipality: str, after: datetime | None, end: datetime,
                    rows: int) -> datetime | None:
    """The end of the day (Stockholm) of the `rows`-th row of the municipality recorded after `after`,
    if that is before `end` (None: fewer rows, or that day ends at `end`)."""
    q = select(ev.c.recorded_at).where(ev.c.municipality == municipality, ev.c.recorded_at <= end)
    if after is not None:
        q = q.where(ev.c.recorded_at > after)
    q = q.order_by(ev.c.recorded_at).offset(rows - 1).limit(1)  # the (municipality, recorded_at) index
    with store._engine.connect() as conn:
        at = conn.execute(q).scalar_one_or_none()
    if at is None:
        return None
    day = end_of_day(as_aware(at).astimezone(STOCKHOLM).date())
    return day if day < end else None


def month_ends(first: datetime, before: datetime) -> list[datetime]:
    """The end of each month (Stockholm), from the month of `first` on, that lies before `before`."""
    day = as_aware(first).astimezone(STOCKHOLM).date()
    year, month, out = day.year, day.month, list[datetime]()
    while True:
        end = end_of_day(date(year, month, calendar.monthrange(year, month)[1]))
        if end >= as_aware(before):
            return out
        out.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def municipalities(store: SqlStore) -> list[str]:
    """The kommunkoder in the store (through the municipality index: one entry per distinct code)."""
    with store._engine.connect() as conn:  # read-only query
        rows = conn.execute(select(ev.c.municipality).where(ev.c.municipality.is_not(None)).distinct())
        return sorted(str(m) for (m,) in rows)


def _recorded_range(store: SqlStore, municipality: str) -> tuple[datetime, datetime] | None:
    q = select(func.min(ev.c.recorded_at), func.max(ev.c.recorded_at)).where(
        ev.c.municipality == municipality)
    with store._engine.connect() as conn:  # the (municipality, recorded_at) index
        first, last = conn.execute(q).one()
    return None if first is None else (as_aware(first), as_aware(last))


def prepare(store: SqlStore, memo: Path, only: Sequence[str] | None = None, *,
            projections: Iterable[str] | None = None, until: datetime | None = None,
            months: int | None = None, rows: int | None = None) -> list[Prepared]:
    """Make the month-end checkpoints of each municipality (`only`: these) in the memo's folder
    (module docstring). The store must be one whose replays keep checkpoints (`Checkpoints.usable`)."""
    if months is not None and months < 0:
        raise ValueError(f"months must be 0 or more, not {months}")
    rows = ROWS_BETWEEN if rows is None else rows
    if rows < 1:
        raise ValueError(f"rows between prepared checkpoints must be 1 or more, not {rows}")
    if not Checkpoints.usable(store):
        raise ValueError("prepared checkpoints need a SQLite store file or a PostgreSQL database, and a "
                         "SHA-256 whose state can be saved")
    folded = frozenset(projections) if projections is not None else report_projections()
    until = datetime.now(UTC) if until is None else as_aware(until)
    done = []
    with exclusive(memo):  # one run at a time (`Busy` otherwise)
        points = Checkpoints(memo, store)
        for path in sweep(points.folder):
            log.info("prepare-replay: removed %s, left by a run that did not end", path.name)
        for m in only or municipalities(store):
            done.append(_municipality(store, points, m, folded, until, months, rows))
            # the municipality's rows counted now, in the memo's folder: a first replay cuts its ranges
            # from the count (`parallel.span_of`; 0.26-0.75 s at 10 M), later ones only what came since
            parallel.span_of(store, Scope(None, m), memo)
    return done


def _municipality(store: SqlStore, points: Checkpoints, municipality: str, projections: frozenset[str],
                  until: datetime, months: int | None, rows: int) -> Prepared:
    t0 = time.perf_counter()
    recorded = _recorded_range(store, municipality)
    if recorded is None:
        return Prepared(municipality, 0, None, None, 0, time.perf_counter() - t0)
    head = store.head()
    mark, targets = points.edit_mark(), retraction_targets(store, head)
    every = month_ends(recorded[0], min(recorded[1], until))
    ends = cuts(store, municipality, every, chosen(every, months), rows)
    _prune(points, municipality, set(ends))
    gap = _first_missing(store, points, municipality, projections, ends, head)
    found = _latest(points, municipality, projections, targets, head, before=gap)
    if found is not None:
        targets |= found.targets
        ends = [e for e in ends if found.known_at is not None and e > found.known_at]
    last = found.known_at if found is not None else None
    if not ends:
        return Prepared(municipality, 0, last, last, 0, time.perf_counter() - t0)
    manifest = points.folder / f".prepare-{uuid.uuid4().hex}.manifest"
    made, snap, at, stopped = 0, None, 0, None
    bound = found.bound if found is not None else None
    count0 = found.cut.count if found is not None else 0
    try:
        with dg.EventDigest(manifest, resume=(found.cut, found.manifest) if found else None) as digest:
            if found is not None:
                snap = Snapshot(found.state, digest, found.municipalities, found.back_registered)
                at = found.upto
            for end in ends:
                scope = Scope(end, municipality, upto=head)
                upto = pages.prefix_end(store, scope, after=at)
                if upto <= at:
                    continue  # no row since the last one (or none yet): a replay takes that one
                snap = rebuild(store, replace(scope, upto=upto), projections, digest, targets=targets,
                               resume=snap, after=at, bound=False)  # all recorded by then
                at = upto
                if snap.undecodable:
                    bad = snap.undecodable[0]
                    stopped = (f"event {bad.event_id} at position {bad.position} does not decode "
                               f"({bad.error}); no month end from {end.date().isoformat()} on")
                    log.warning("prepare-replay %s: %s", municipality, stopped)
                    break
                read = pages.bounded_from(store, scope, bound)  # from the last month's: the month's entries
                bound = pages.Bound(end, head if read.upto is None else read.upto, head)
                if points.save(scope, at, projections, targets, mark, snap, digest.cut(), exact=False,
                               bound=bound, prepared=True) is not None:
                    made, last = made + 1, end
            events = digest.count - count0
        if found is not None:
            _relink(points, municipality, found.manifest, manifest)
    finally:
        manifest.unlink(missing_ok=True)  # the checkpoints keep their links
    return Prepared(municipality, made, found.known_at if found else None, last, events,
                    time.perf_counter() - t0, stopped)


def _first_missing(store: SqlStore, points: Checkpoints, municipality: str, projections: frozenset[str],
                   ends: Sequence[datetime], head: int) -> datetime | None:
    """The first chosen point before the latest prepared checkpoint that has none although rows were
    recorded since the one before it (a new choice: `--months` larger, `--rows` fewer than the runs
    before); None where every such point has one or needs none (no row since the point before)."""
    made = {datetime.fromisoformat(rec["known_at"]): int(rec["upto"])
            for _, rec in points.prepared_records(municipality)
            if rec.get("known_at") is not None and sorted(rec.get("projections", ())) == sorted(projections)}
    at = 0
    for end in ends:
        if not made or end > max(made):
            return None
        if end in made:
            at = made[end]
        elif pages.prefix_end(store, Scope(end, municipality, upto=head), after=at) > at:
            return end
    return None


def _latest(points: Checkpoints, municipality: str, projections: frozenset[str], targets: frozenset[UUID],
            head: int, before: datetime | None = None) -> Found | None:
    """The latest of the municipality's prepared checkpoints of these projections (made as known before
    `before`, if given) that a replay as known at its own month end may still take. Those above it that
    are no longer sound (an edit below them, a new retraction of an event they folded, damaged files),
    and those of other projections, are removed: the run makes them anew (those from `before` on too)."""
    records = sorted(points.prepared_records(municipality), key=lambda r: r[1].get("known_at") or "",
                     reverse=True)
    for path, rec in records:
        if sorted(rec.get("projections", ())) == sorted(projections) and rec.get("known_at") is not None:
            known = datetime.fromisoformat(rec["known_at"])
            if before is not None and known >= before:
                Checkpoints.remove(path)  # made again by this run, from the one before `before`
                continue
            found = points.taken(path, rec, Scope(known, municipality, upto=head), projections, targets, head)
            if found is not None:
                return found
        Checkpoints.remove(path)
    return None


def _prune(points: Checkpoints, municipality: str, ends: set[datetime]) -> None:
    """Remove the municipality's prepared checkpoints made as known at a month end no longer chosen."""
    for path, rec in points.prepared_records(municipality):
        known = rec.get("known_at")
        if known is None or datetime.fromisoformat(known) not in ends:
            Checkpoints.remove(path)


def _relink(points: Checkpoints, municipality: str, old: Path, new: Path) -> None:
    """Link the prepared checkpoints that shared the manifest `old` (resumed from) to `new`, which starts
    with a copy of its bytes: one manifest file for them all (module docstring)."""
    try:
        shared = os.stat(old).st_ino
    except OSError:
        return
    for path, _ in points.prepared_records(municipality):
        kept = path.with_suffix(".manifest")
        try:
            if os.stat(kept).st_ino != shared:
                continue
            tmp = kept.with_suffix(".relink")
            os.link(new, tmp)
            os.replace(tmp, kept)
        except OSError as exc:
            log.warning("prepare-replay: %s keeps its own manifest (%s)", kept, exc)
