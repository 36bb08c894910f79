"""Replay for audits (revision): any figure, as known at any record time, with a proof.

* `replay` rebuilds the chosen projections from the store into a snapshot of its own (in memory,
  never the live read models), as known at a record time, and writes the report tables with a proof;
* `verify` re-derives a proof's figures in a clean process and says "identical" or names what differs;
* `diff` puts the figures at two record times side by side and names the events that explain each
  change (late registrations, corrections, retractions, back-registrations).

Modules: `digest` (hashes and the event manifest), `source` (the included events, streamed),
`proof` (the proof bundle), `replay`, `verify`, `diff`, `cli` (the commands), `bench` (benchmark).
"""
