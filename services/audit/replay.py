"""`casestream replay`: rebuild chosen projections as known at a record time, write tables and a proof.

The rebuild is a snapshot of its own: a fresh `bundle.State` in memory, folded from the store's
events in position order (only the projections the chosen reports read), never the live read models
and never a write to the store. Memory stays flat in the number of events: the store is read page by
page, the manifest is written as it streams, and the state is what the projections keep (open
placements and cases, units, sums), not the events.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import UUID

from events import Event
from events.reference import EventRetracted
from events.timeutil import Period, as_aware
from projections import budget, bundle, care_costs, ekb, intake, investigations, occupancy, workload
from projections.definitions import CURRENT, DEFINITIONS, Builder, DefinitionKey, Params, build, needs
from projections.reports.base import Report
from services.audit import checkpoint, collector, columnar_loop, pages
from services.audit import digest as dg
from services.audit.proof import (
    CodeVersion,
    EventRange,
    FileRef,
    PeriodRef,
    Proof,
    ReportProof,
    code_version,
    dump,
)
from services.audit.rawfold import RawFold
from services.audit.source import Scope, Stored, back_registered, included, retraction_targets, sql_store
from services.render import to_csv, to_json
from services.store.base import EventStore

MODULES: dict[str, ModuleType] = {
    "care_costs": care_costs,
    "occupancy": occupancy,
    "intake": intake,
    "investigations": investigations,
    "budget": budget,
    "ekb": ekb,
    "workload": workload,
}
PROOF_FILE = "proof.json"
log = logging.getLogger(__name__)
# The event types each projection folds (every projection also folds event.retracted). Each module's
# `apply` ignores all other types, so routing by type changes nothing but the time spent; a unit test
# folds every golden sample both ways and compares.
TYPES: dict[str, frozenset[str]] = {
    "care_costs": frozenset(
        {"placement.started", "placement.repriced", "placement.ended", "placement.corrected"}
    ),
    "occupancy": frozenset({"unit.capacity_set"}),
    "intake": frozenset({"case.actualised"}),
    "investigations": frozenset({"investigation.opened", "investigation.closed"}),
    "budget": frozenset({"budget.set", "budget.revised", "ledger.posted", "forecast.adjusted"}),
    "ekb": frozenset({"ekb.status_changed"}),
    "workload": frozenset({"workload.measured"}),
}
Route = list[tuple[str, Callable[[Any, Event], Any]]]


def applier(projections: Iterable[str]) -> Callable[[bundle.State, Event], None]:
    """`bundle.apply` restricted to some projections (the others stay empty), routed by event type."""
    chosen = sorted(projections)
    routes: dict[str, Route] = {}
    everything = [(name, MODULES[name].apply) for name in chosen]

    def route(etype: str) -> Route:
        if etype == "event.retracted" or not all(name in TYPES for name in chosen):
            return everything
        return [(name, fn) for name, fn in everything if etype in TYPES[name]]

    def apply(state: bundle.State, event: Event) -> None:
        todo = routes.get(event.type)
        if todo is None:
            todo = routes[event.type] = route(event.type)
        for name, fn in todo:
            fn(getattr(state, name), event)
        state.events += 1
        if event.position is not None and event.position > state.last_position:
            state.last_position = event.position

    return apply


@dataclass
class Snapshot:
    """A rebuilt, private state and what was read to build it."""

    state: bundle.State
    digest: dg.EventDigest
    municipalities: set[str] = field(default_factory=set)
    back_registered: int = 0
    undecodable: list[Stored] = field(default_factory=list)
    paths: Mapping[str, int] = field(default_factory=dict)  # pages by how the columnar replay read them


def rebuild(
    store: EventStore,
    scope: Scope,
    projections: Iterable[str],
    digest: dg.EventDigest,
    on_item: Callable[[Stored], None] | None = None,
    targets: frozenset[UUID] | None = None,
    processes: int | None = None,
    memo: Path | None = None,
    resume: Snapshot | None = None,
    after: int = 0,
    bound: bool = True,
    lines: bool = True,
) -> Snapshot:
    """Fold the included events of `scope` into a fresh state, hashing their stored bytes as they pass.

    `targets`: the retraction targets to fold compactly around (default: those up to `scope.upto`);
    give every retraction in the store to fold later events into the same state afterwards.
    `processes`: reader processes for a SQL store (`services.audit.parallel`; None: by the scope's size).
    `memo`: a page memo's folder (`services.audit.page_memo`): gathered pages taken from it and kept in
    it, for a SQL store; None: every page is parsed.
    `resume`, `after`: fold only the rows above position `after` into `resume`, a snapshot of the
    scope's rows up to it (from a checkpoint, `services.audit.checkpoint`; its state takes `targets`).
    `bound` False: every row of the scope up to its `upto` is known to be included (no query for its
    last included row).
    `lines` False: every page is parsed from its stored payloads, never from the parsed lines the store
    keeps beside them (`services.store.parsed`): `verify`.
    """
    projections = set(projections)
    targets = retraction_targets(store, scope.upto) if targets is None else targets
    if resume is not None:
        snap, before = resume, Counter(resume.paths)
        snap.digest = digest
        bundle.retarget(snap.state, targets)
    else:
        snap, before = Snapshot(bundle.compact(targets), digest), Counter()
    apply = applier(projections)

    def take(item: Stored, hashed: bool = False) -> None:
        if not hashed:
            digest.add(item.position, item.event_id, item.raw)
        if on_item is not None:
            on_item(item)
        if item.event is None:
            snap.undecodable.append(item)
            return
        _check_target(item, targets)
        apply(snap.state, item.event)
        snap.municipalities.add(item.event.municipality)
        snap.back_registered += back_registered(item.event, item.appended_at)

    sql = sql_store(store)
    if on_item is None and sql is not None:
        columnar_loop.run(sql, scope, snap, RawFold(snap.state, projections, targets), digest, take,
                          processes=processes, memo=memo, after=after, bound=bound, lines=lines)
        snap.paths = before + Counter(snap.paths)
        return snap
    for item in included(store, scope, after=after):
        take(item)
    return snap


def checkpointed(store: EventStore, scope: Scope, projections: Iterable[str], manifest: Path,
                 memo: Path) -> Snapshot:
    """`rebuild` with the manifest written to `manifest`, from the best checkpoint in the memo's folder
    (`services.audit.checkpoint`), else from the first position; keeping checkpoints on the way: a
    prefix one (the rows up to the scope's first row recorded after its known-at) and, where rows after
    it were folded, an exact one (the whole scope, for replays as known at the very same time; else the
    prefix one serves those). Each keeps where the reads stopped (`pages.Bound`) for later replays.

    Only for a SQLite store whose SHA-256 states can be saved (`Checkpoints.usable`); the figures,
    hashes and proof are those of `rebuild` from the first position. The snapshot's digest is closed.
    """
    projections = set(projections)
    sql = sql_store(store)
    if sql is None or not checkpoint.Checkpoints.usable(sql):
        raise ValueError("replay checkpoints need a SQLite store file and a SHA-256 whose state can be saved")
    try:
        points = checkpoint.Checkpoints(memo, sql)
    except OSError as exc:
        log.warning("replay checkpoints: cannot use %s (%s); replaying without them", memo, exc)
        with dg.EventDigest(manifest) as digest:
            return rebuild(store, scope, projections, digest, memo=memo)
    head = sql.head() if scope.upto is None else scope.upto
    scope = replace(scope, upto=head)
    mark, targets = points.edit_mark(), retraction_targets(store, head)
    found = points.find(scope, projections, targets)
    if found is not None and found.upto == head and found.exact:
        with dg.EventDigest(manifest, resume=(found.cut, found.manifest)) as digest:
            return _resumed(found, digest)
    read = pages.bounded_from(sql, scope, found.bound if found is not None else None)
    bound = None if read.upto is None or scope.known_at is None else pages.Bound(
        as_aware(scope.known_at), read.upto, head)  # the last included row: the reads stop there
    snap: Snapshot | None = None
    at = 0  # the rows up to here are folded
    stands = found is not None  # a checkpoint, taken or made, stands for the state as it is
    # the checkpoint below the state (events, state bytes): another is written only where it spares a
    # later replay more than it costs (`checkpoint.spares`; a month after one at 10 M it does not)
    base = None if found is None else (found.cut.count, found.size)
    with dg.EventDigest(manifest, resume=(found.cut, found.manifest) if found else None) as digest:
        if found is not None:
            targets = targets | found.targets
            projections = set(found.projections)  # a prepared one may hold more: folded on, all of them
            snap = _resumed(found, digest)
            at = found.upto
        if found is None or not found.exact:
            upto = pages.prefix_end(sql, scope, after=at)
            if upto > at:
                snap = rebuild(store, replace(scope, upto=upto), projections, digest, targets=targets,
                               memo=memo, resume=snap, after=at, bound=False)  # all recorded by then
                made = None
                if not snap.undecodable and checkpoint.spares(base, digest.count):
                    made = points.save(scope, upto, projections, targets, mark, snap, digest.cut(),
                                       exact=False, bound=bound)
                if made is not None:
                    base = (digest.count, made)
                stands = made is not None
                at = upto
        if snap is None or at < (read.upto or 0):  # the rest, each row tested for its record time
            snap = rebuild(store, read, projections, digest, targets=targets, memo=memo, resume=snap,
                           after=at, bound=False)
            stands = False
        # A prefix checkpoint whose replay then read no more rows serves replays as known at the same
        # time too (their reads stop at its bound): one checkpoint, not two of the same state.
        if not stands and not snap.undecodable and checkpoint.spares(base, digest.count):
            points.save(scope, head, projections, targets, mark, snap, digest.cut(), exact=True, bound=bound)
        return snap


def _resumed(found: checkpoint.Found, digest: dg.EventDigest) -> Snapshot:
    """The snapshot a checkpoint holds, its digest resumed in `digest`."""
    return Snapshot(found.state, digest, found.municipalities, found.back_registered, paths={"checkpoint": 1})


def _check_target(item: Stored, targets: frozenset[UUID]) -> None:
    """Compact mode needs every retraction target known before the fold (the store answered it)."""
    data = item.event.data if item.event is not None else None
    if isinstance(data, EventRetracted) and data.retracted_event_id not in targets:
        raise ValueError(f"retraction {item.event_id} at position {item.position} targets "
                         f"{data.retracted_event_id}, which the store's list of retractions did not name")


@dataclass(frozen=True)
class Request:
    names: Sequence[str]
    period: Period
    known_at: datetime
    municipality: str | None = None
    params: Params = field(default_factory=Params)
    versions: Mapping[str, int] = field(default_factory=lambda: dict(CURRENT))


def projections_for(request: Request, registry: Mapping[DefinitionKey, Builder]) -> set[str]:
    out: set[str] = set()
    for name in request.names:
        out |= needs(name, request.versions[name], registry)
    return out


def files_of(report: Report) -> dict[str, bytes]:
    """The published files of a report table: JSON (unrounded, §4) and CSV (rounded half up)."""
    return {"json": to_json(report) + b"\n", "csv": to_csv(report).encode()}


def report_proof(report: Report, name: str, version: int) -> ReportProof:
    rows = dg.canonical_rows(report.rows)
    files = {
        kind: FileRef(file=f"{name}.{kind}", sha256=dg.sha256_hex(data))
        for kind, data in files_of(report).items()
    }
    return ReportProof(
        name=name, definition_version=version, rows_sha256=dg.rows_sha256(rows), rows=rows, files=files
    )


def event_range(snap: Snapshot, head: int, manifest: FileRef | None) -> EventRange:
    d = snap.digest
    return EventRange(
        head=head,
        first_position=d.first_position,
        last_position=d.last_position,
        count=d.count,
        sha256=d.sha256,
        manifest=manifest,
        back_registered=snap.back_registered,
    )


@collector.paused()  # from the first read to the last report (`services.audit.collector`)
def replay(
    store: EventStore,
    request: Request,
    out_dir: Path,
    registry: Mapping[DefinitionKey, Builder] = DEFINITIONS,
    code: CodeVersion | None = None,
    memo: Path | None = None,
    pages_read: Counter[str] | None = None,
) -> Proof:
    """Rebuild, write `<report>.json`, `<report>.csv`, the manifest and `proof.json` into `out_dir`.

    `memo`: a page memo's folder to rebuild with (`services.audit.page_memo`; None: none).
    `pages_read`: counts how the pages were read (on columns, from the memo, ...), for the caller.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    head = store.head()
    scope = Scope(request.known_at, request.municipality, upto=head)
    manifest_path = out_dir / "proof.events.tsv.gz"
    projections = projections_for(request, registry)
    if memo is not None and checkpoint.Checkpoints.usable(sql_store(store)):
        snap = checkpointed(store, scope, projections, manifest_path, memo)
    else:
        with dg.EventDigest(manifest_path) as digest:
            snap = rebuild(store, scope, projections, digest, memo=memo)
    digest = snap.digest
    if pages_read is not None:
        pages_read.update(snap.paths)
    if snap.undecodable:
        bad = snap.undecodable[0]
        raise ValueError(f"event {bad.event_id} at position {bad.position} does not decode: {bad.error}")
    reports = []
    for name in request.names:
        version = request.versions[name]
        report = build(snap.state, name, version, request.period, request.params, registry)
        for kind, data in files_of(report).items():
            (out_dir / f"{name}.{kind}").write_bytes(data)
        reports.append(report_proof(report, name, version))
    proof = Proof(
        municipality=request.municipality,
        municipalities=sorted(snap.municipalities),
        period=PeriodRef(start=request.period.start, end=request.period.end),
        known_at=request.known_at,
        params={"investigation_limit_days": request.params.investigation_limit_days},
        events=event_range(snap, head, FileRef(file=manifest_path.name, sha256=digest.manifest_sha256)),
        reports=reports,
        code=code or code_version(),
        replayed_at=datetime.now(UTC),
    )
    (out_dir / PROOF_FILE).write_bytes(dump(proof))
    return proof
