"""Match the events a re-derivation reads against a proof's manifest, naming every difference.

Both sides are in position order, so one merge pass finds: an event whose stored bytes changed
(tampering: same position and id, another SHA-256), a position now holding another event id, events
of the manifest that are no longer included (deleted, or their recorded_at / municipality changed)
and events included now that were not then. Only the first `limit` findings are kept in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from services.audit.digest import ManifestEntry


@dataclass
class Findings:
    limit: int = 100
    lines: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, line: str) -> None:
        self.count += 1
        if len(self.lines) < self.limit:
            self.lines.append(line)

    def summary(self) -> list[str]:
        more = self.count - len(self.lines)
        return self.lines + ([f"... and {more} more event differences"] if more > 0 else [])


class Matcher:
    """Feed it the re-read events (`see`) in position order, then `finish`."""

    def __init__(self, manifest: Iterator[ManifestEntry], findings: Findings) -> None:
        self._manifest = manifest
        self._next: ManifestEntry | None = next(manifest, None)
        self.findings = findings

    def _advance(self) -> None:
        self._next = next(self._manifest, None)

    def _missing(self, entry: ManifestEntry) -> None:
        self.findings.add(f"event {entry.event_id} at position {entry.position}: included in the proof, "
                          f"no longer included now (deleted, or its recorded_at or municipality changed)")

    def see(self, position: int, event_id: str, sha256: str) -> None:
        while self._next is not None and self._next.position < position:
            self._missing(self._next)
            self._advance()
        entry = self._next
        if entry is None or entry.position > position:
            self.findings.add(f"event {event_id} at position {position}: included now, not in the proof "
                              f"(its recorded_at or municipality changed)")
            return
        if entry.event_id != event_id:
            self.findings.add(f"position {position}: held event {entry.event_id} in the proof, "
                              f"now holds event {event_id}")
        elif entry.sha256 != sha256:
            self.findings.add(f"event {event_id} at position {position}: stored bytes changed "
                              f"(SHA-256 {entry.sha256[:12]}… in the proof, {sha256[:12]}… now) — tampered")
        self._advance()

    def finish(self) -> None:
        while self._next is not None:
            self._missing(self._next)
            self._advance()
