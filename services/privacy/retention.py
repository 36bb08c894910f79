"""Gallring (retention): which persons a policy removes, the dry-run report, and crypto-shredding.

One pass over the event log gathers, per stream, its events' count, last entry day and open/closed
state, and per person (every event naming `data.person`) their streams, target groups, legal bases
and whether they were ever placed. A person is **eligible** when none of their cases is open (a
`case.actualised` stream without `case.closed`) and none of their placements is running; their
**last entry** (sista anteckningen) is the latest day, business or registration, of any event on
their streams. The governing rule (policy, override) gives a keeping time; the person is removed
when the last entry lies before the cut-off = run day − keeping time. Persons already shredded are
left out, so applying twice changes nothing.

Applying first appends one `retention.applied` event per (municipality, policy, rule) with its
counts — a deterministic event id, so a repeated run is a duplicate — then shreds the keys.
The event log is never changed: every stored event and every KPI stays as it was.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import NAMESPACE_URL, uuid5

from events import Event, decode_dict
from events.timeutil import STOCKHOLM, local_date
from services.privacy.keystore import KeyStore
from services.privacy.policy import Policy, PolicyFile
from services.store.base import EventStore


@dataclass(slots=True)
class StreamFacts:
    events: int = 0
    last_day: date = date.min
    case: bool = False  # a case.actualised is on it
    case_closed: bool = False
    placement_open: bool = False


@dataclass(slots=True)
class PersonFacts:
    municipality: str
    streams: set[str] = field(default_factory=set)
    groups: set[str] = field(default_factory=set)
    bases: set[str] = field(default_factory=set)
    placed: bool = False


def _stream_step(s: StreamFacts, event: Event) -> None:
    s.events += 1
    recorded = event.recorded_date or event.business_date
    s.last_day = max(s.last_day, event.business_date, recorded)
    kind = event.type
    if kind == "case.actualised":
        s.case = True
    elif kind == "case.closed":
        s.case_closed = True
    elif kind == "placement.started":
        s.placement_open = True
    elif kind == "placement.ended":
        s.placement_open = False
    elif kind == "placement.corrected":
        data = event.data
        if getattr(data, "end", None) is not None:
            s.placement_open = False
        elif getattr(data, "reopen", False):
            s.placement_open = True


def gather(events: list[Event] | EventStore) -> tuple[dict[str, StreamFacts], dict[str, PersonFacts]]:
    """Per stream and per person facts of the whole log (one pass)."""
    streams: dict[str, StreamFacts] = defaultdict(StreamFacts)
    persons: dict[str, PersonFacts] = {}
    source = events.read_all() if not isinstance(events, list) else events
    for event in source:
        _stream_step(streams[event.stream_id], event)
        person = getattr(event.data, "person", None)
        if not isinstance(person, str):
            continue
        facts = persons.setdefault(person, PersonFacts(event.municipality))
        facts.streams.add(event.stream_id)
        for attr, bucket in (("target_group", facts.groups), ("legal_basis", facts.bases)):
            value = getattr(event.data, attr, None)
            if isinstance(value, str):
                bucket.add(value)
        facts.placed = facts.placed or event.type == "placement.started"
    return dict(streams), persons


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def rule_for(policy: Policy, person: PersonFacts) -> tuple[str, int | None]:
    """(rule name, keeping years; None = kept for ever) for a person the policy governs."""
    groups, bases = frozenset(person.groups), frozenset(person.bases)
    matching = [o for o in policy.overrides if o.matches(groups, bases, person.placed)]
    if not matching:
        return "default", policy.keep_years
    forever = next((o for o in matching if o.keep == "forever"), None)
    if forever is not None:
        return forever.name, None
    best = max(matching, key=lambda o: o.keep_years or 0)
    return best.name, best.keep_years


@dataclass
class Row:
    """What one (municipality, policy, rule) removes."""

    municipality: str
    policy: str
    rule: str
    cut_off: date
    persons: list[str] = field(default_factory=list)
    cases: int = 0
    events: int = 0


@dataclass
class Plan:
    run_date: date
    rows: list[Row]
    kept_forever: dict[tuple[str, str], int]  # (policy, rule) -> eligible persons a `forever` rule keeps
    open_persons: int  # persons with an open case or a running placement (never removed)
    done_persons: int  # persons already shredded by an earlier run


def plan(store: EventStore, keys: KeyStore, policies: PolicyFile, run_date: date) -> Plan:
    """The dry run: per (municipality, policy, rule) the persons, cases and events it would remove."""
    streams, persons = gather(store)
    rows: dict[tuple[str, str, str], Row] = {}
    kept: dict[tuple[str, str], int] = defaultdict(int)
    open_count = 0
    done = keys.done(persons)
    for pid in sorted(persons.keys() - done):
        facts = persons[pid]
        mine = [streams[s] for s in facts.streams]
        if any((s.case and not s.case_closed) or s.placement_open for s in mine):
            open_count += 1
            continue
        policy = next((p for p in policies.policies if p.applies_to.matches(
            frozenset(facts.groups), frozenset(facts.bases), facts.placed)), None)
        if policy is None:
            continue
        rule, years = rule_for(policy, facts)
        if years is None:
            kept[(policy.name, rule)] += 1
            continue
        cut_off = years_before(run_date, years)
        if max(s.last_day for s in mine) >= cut_off:
            continue
        key = (facts.municipality, policy.name, rule)
        rows.setdefault(key, Row(facts.municipality, policy.name, rule, cut_off)).persons.append(pid)
    for row in rows.values():
        union = set().union(*(persons[p].streams for p in row.persons))
        row.cases = sum(1 for s in union if streams[s].case)
        row.events = sum(streams[s].events for s in union)
    return Plan(run_date, [rows[k] for k in sorted(rows)], dict(kept), open_count, len(done))


def applied_event(row: Row, run_date: date) -> Event:
    """The `retention.applied` event of a row: counts only, an id fixed by what was removed."""
    digest = hashlib.sha256("\n".join(sorted(row.persons)).encode()).hexdigest()
    name = f"casestream:retention:{row.municipality}:{row.policy}:{row.rule}:{run_date}:{digest}"
    return decode_dict({
        "event_id": str(uuid5(NAMESPACE_URL, name)), "type": "retention.applied", "version": 1,
        "stream_id": f"retention:{row.municipality}:{row.policy}", "municipality": row.municipality,
        "occurred_at": run_date.isoformat(),
        "data": {"policy": row.policy, "rule": row.rule, "run_date": run_date.isoformat(),
                 "cut_off": row.cut_off.isoformat(), "persons": len(row.persons), "cases": row.cases,
                 "events": row.events},
    })


def apply(store: EventStore, keys: KeyStore, the_plan: Plan) -> int:
    """Record each row's act in the log, then shred its persons' keys; returns the keys destroyed."""
    destroyed = 0
    for row in the_plan.rows:
        store.append([applied_event(row, the_plan.run_date)])
        destroyed += keys.shred(row.persons, f"{row.policy}/{row.rule} {the_plan.run_date.isoformat()}")
    return destroyed


def today() -> date:
    """The run day in Europe/Stockholm (the CLI's default)."""
    return local_date(datetime.now(tz=STOCKHOLM))
