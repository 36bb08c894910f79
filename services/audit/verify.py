"""`casestream verify PROOF.json`: re-derive a proof's figures from the store and compare.

Run as `python -m services.audit.verify PROOF.json [--db URL]` (the CLI starts it as a subprocess, so
the re-derivation happens in a clean process that shares no state with whoever published the figure).
One pass over the events recorded by the proof's known-at time:

* events up to the proof's head are hashed and matched against the manifest: an event whose stored
  bytes changed is named (id and position), as are events added to or missing from the range;
* the reports are rebuilt with the proof's KPI definition versions and compared figure by figure and
  file by file (byte for byte);
* events appended after the proof but recorded at or before its known-at time (back-registered,
  CONVENTIONS §1) are named, with the figures they change, so a published figure never changes silently.

Prints "identical" (exit 0) or the differences (exit 1).
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from events.timeutil import Period, local_date
from projections import bundle
from projections.definitions import (
    DEFINITIONS,
    Builder,
    DefinitionKey,
    Params,
    UnknownDefinition,
    build,
    needs,
)
from projections.reports.base import Report
from services.audit import compare
from services.audit import digest as dg
from services.audit.matcher import Findings, Matcher
from services.audit.proof import Proof, ProofError, code_version, load
from services.audit.replay import applier, files_of, rebuild
from services.audit.source import Scope, Stored, back_registered, included, retraction_targets
from services.store.base import EventStore


@dataclass
class Outcome:
    differences: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.differences


def _late(item: Stored) -> str:
    e = item.event
    what = "does not decode" if e is None else (
        f"{e.type}, business day {e.business_date}, recorded {e.recorded_date}, "
        f"appended {local_date(item.appended_at)}"
        + (", back-registered" if back_registered(e, item.appended_at) else ""))
    return (f"event {item.event_id} at position {item.position} ({what}): appended after the proof, "
            f"recorded at or before its known-at time")


def _manifest(proof: Proof, proof_dir: Path, out: Outcome) -> Matcher | None:
    ref = proof.events.manifest
    path = None if ref is None else proof_dir / ref.file
    if ref is None or path is None or not path.is_file():
        out.notes.append("no event manifest next to the proof: changed events are detected, not named")
        return None
    if _lines_sha(path) != ref.sha256:
        out.differences.append(f"manifest {path.name} does not match the proof's SHA-256 (altered)")
        return None
    return Matcher(dg.read_manifest(path), Findings())


def _lines_sha(path: Path) -> str:
    h = hashlib.sha256()
    with gzip.open(path, "rb") as f:
        for line in f:
            h.update(line)
    return h.hexdigest()


def _reports(state: bundle.State, proof: Proof,
             registry: Mapping[DefinitionKey, Builder]) -> dict[str, Report]:
    period = Period(proof.period.start, proof.period.end)
    params = Params(**proof.params)
    return {r.name: build(state, r.name, r.definition_version, period, params, registry)
            for r in proof.reports}


def rederive(store: EventStore, proof: Proof, proof_dir: Path,
             registry: Mapping[DefinitionKey, Builder] = DEFINITIONS) -> Outcome:
    """Rebuild the proof's range with replay's own rebuild (the columnar path on SQL stores), then the
    events appended after it: the figures as published, and as known now at the same known-at time."""
    out = Outcome()
    try:
        projections = set().union(*(needs(r.name, r.definition_version, registry) for r in proof.reports))
    except UnknownDefinition as exc:
        out.differences.append(f"{exc}: this code cannot rebuild the figure")
        return out
    matcher = _manifest(proof, proof_dir, out)
    digest = dg.EventDigest(on_event=None if matcher is None else matcher.see)
    scope = Scope(proof.known_at, proof.municipality, upto=proof.events.head)
    # every retraction in the store is known up front, so the late events fold into the same state;
    # from the stored payloads alone: never the page memo, a checkpoint or the store's parsed lines
    snap = rebuild(store, scope, projections, digest, targets=retraction_targets(store), lines=False)
    for item in snap.undecodable:
        out.differences.append(f"event {item.event_id} at position {item.position}: stored bytes no "
                               f"longer decode ({item.error})")
    if matcher is not None:
        matcher.finish()
        out.differences.extend(matcher.findings.summary())
    _compare_events(proof, digest, out, named=matcher is not None and matcher.findings.count > 0)
    published = _reports(snap.state, proof, registry)
    _compare_reports(proof, published, proof_dir, out)
    late, apply = Findings(), applier(projections)
    for item in included(store, Scope(proof.known_at, proof.municipality), after=proof.events.head):
        late.add(_late(item))
        if item.event is None:
            out.differences.append(f"event {item.event_id} at position {item.position}: stored bytes no "
                                   f"longer decode ({item.error})")
        else:
            apply(snap.state, item.event)
    if late.count:
        out.differences.extend(late.summary())
        _compare_current(proof, published, _reports(snap.state, proof, registry), out)
    return out


def _compare_events(proof: Proof, digest: dg.EventDigest, out: Outcome, *, named: bool) -> None:
    ev = proof.events
    now = (digest.count, digest.first_position, digest.last_position)
    if now != (ev.count, ev.first_position, ev.last_position):
        out.differences.append(f"included events: {ev.count} in positions {ev.first_position}.."
                               f"{ev.last_position} in the proof, {now[0]} in {now[1]}..{now[2]} now")
    if digest.sha256 != ev.sha256:
        unnamed = " (stored bytes changed in the range; no manifest to name them)"
        out.differences.append(f"events SHA-256 {ev.sha256} in the proof, {digest.sha256} now"
                               + ("" if named else unnamed))


def _compare_reports(proof: Proof, rebuilt: Mapping[str, Report], proof_dir: Path, out: Outcome) -> None:
    for rp in proof.reports:
        report = rebuilt[rp.name]
        rows = dg.canonical_rows(report.rows)
        for c in compare.changes(report.columns, rp.rows, rows):
            out.differences.append(f"{rp.name} v{rp.definition_version}: {c.row}: {c.column} published "
                                   f"{compare.shown(c.before)}, re-derived {compare.shown(c.after)}")
        if dg.rows_sha256(rows) != rp.rows_sha256:
            out.differences.append(f"{rp.name}: rows SHA-256 differs from the proof")
        for kind, data in files_of(report).items():
            ref = rp.files.get(kind)
            if ref is None:
                continue
            if dg.sha256_hex(data) != ref.sha256:
                out.differences.append(f"{rp.name}: re-derived {kind} file differs from the proof's")
            published = proof_dir / ref.file
            if published.is_file() and dg.sha256_hex(published.read_bytes()) != ref.sha256:
                out.differences.append(f"{rp.name}: published file {ref.file} was altered after the proof")


def _compare_current(proof: Proof, published: Mapping[str, Report], current: Mapping[str, Report],
                     out: Outcome) -> None:
    for rp in proof.reports:
        a, b = published[rp.name], current[rp.name]
        for c in compare.changes(b.columns, dg.canonical_rows(a.rows),
                                 dg.canonical_rows(b.rows)):
            out.differences.append(f"{rp.name}: as known at {proof.known_at.isoformat()} now: {c.row}: "
                                   f"{c.column} {compare.shown(c.before)} -> {compare.shown(c.after)}")


def run(proof_path: Path, db: str | None) -> int:
    from services.bootstrap import bootstrap

    try:
        proof = load(proof_path)
    except ProofError as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    app = bootstrap(db=db)
    try:
        outcome = rederive(app.store, proof, proof_path.parent)
    finally:
        app.close()
    now = code_version()
    if (now.version, now.git_commit) != (proof.code.version, proof.code.git_commit):
        outcome.notes.append(f"code version differs: proof {proof.code.version} {proof.code.git_commit}, "
                             f"now {now.version} {now.git_commit}")
    typer.echo("identical" if outcome.identical else "differences:")
    for line in outcome.differences:
        typer.echo(f"  - {line}")
    ev = proof.events
    typer.echo(f"events {ev.count} (positions {ev.first_position}..{ev.last_position}, head {ev.head}), "
          f"known at {proof.known_at.isoformat()}, "
          + ", ".join(f"{r.name} v{r.definition_version}" for r in proof.reports))
    for note in outcome.notes:
        typer.echo(f"note: {note}")
    return 0 if outcome.identical else 1


def main(proof: Annotated[Path, typer.Argument(help="the proof.json of a replay")],
         db: Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB")] = None) -> None:
    raise typer.Exit(run(proof, db))


if __name__ == "__main__":
    from services.audit.arrow_columns import without_pandas_interop

    without_pandas_interop()  # a process that verifies only
    typer.run(main)
