"""All projections folded together: one state per projection, one `apply` that feeds each of them.

The bundle is what a worker keeps per partition, what a replay rebuilds and what `--source store`
folds; every report and KPI reads off it. `merge` of bundles folded from disjoint sets of streams
equals the fold of all their events (each projection merges its own way, see their modules).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from uuid import UUID

from events.envelope import Event
from projections import (
    budget,
    care_costs,
    ekb,
    intake,
    investigation_compact,
    investigations,
    occupancy,
    placement_compact,
    workload,
)


@dataclass(slots=True)
class State:
    care_costs: care_costs.State = field(default_factory=care_costs.State)
    occupancy: occupancy.State = field(default_factory=occupancy.State)
    intake: intake.State = field(default_factory=intake.State)
    investigations: investigations.State = field(default_factory=investigations.State)
    budget: budget.State = field(default_factory=budget.State)
    ekb: ekb.State = field(default_factory=ekb.State)
    workload: workload.State = field(default_factory=workload.State)
    events: int = 0  # events folded (all types, including ones no projection uses)
    last_position: int = 0  # highest store position folded (0 when events carry none)


def compact(retractable: frozenset[UUID]) -> State:
    """A fresh state in compact mode (kompakt läge) for a replay of a store's events.

    `retractable` must hold every event id that any retraction among the folded events targets, and
    each event must be folded once; then the placement, investigation and intake states keep one
    compact row per placement / investigation instead of facts by event id (memory flat in the
    events), with the same figures. Compact states do not `merge`.
    """
    return State(
        care_costs=care_costs.State(compact=placement_compact.Columns(retractable)),
        intake=intake.State(retractable=retractable),
        investigations=investigations.State(compact=investigation_compact.Columns(retractable)),
    )


def retarget(state: State, retractable: frozenset[UUID]) -> None:
    """Give a compact state a wider set of retraction targets before later events are folded into it.

    Valid only when no event folded so far is among the targets added: those events' facts were not
    kept by event id, so a retraction could not undo them (the caller checks, e.g. a replay checkpoint
    by the targets' positions).
    """
    cc, inv = state.care_costs.compact, state.investigations.compact
    if cc is None or inv is None or state.intake.retractable is None:
        raise ValueError("only a compact state (bundle.compact) has retraction targets to widen")
    if not cc.retractable <= retractable:
        raise ValueError("a compact state's retraction targets can only be widened")
    cc.retractable = inv.retractable = state.intake.retractable = retractable


def apply(state: State, event: Event) -> State:
    """Feed one event to every projection (each ignores the types it does not use)."""
    care_costs.apply(state.care_costs, event)
    occupancy.apply(state.occupancy, event)
    intake.apply(state.intake, event)
    investigations.apply(state.investigations, event)
    budget.apply(state.budget, event)
    ekb.apply(state.ekb, event)
    workload.apply(state.workload, event)
    state.events += 1
    if event.position is not None and event.position > state.last_position:
        state.last_position = event.position
    return state


def fold(events: Iterable[Event], state: State | None = None) -> State:
    state = State() if state is None else state
    for event in events:
        apply(state, event)
    return state


def merge(a: State, b: State) -> State:
    return State(
        care_costs=care_costs.merge(a.care_costs, b.care_costs),
        occupancy=occupancy.merge(a.occupancy, b.occupancy),
        intake=intake.merge(a.intake, b.intake),
        investigations=investigations.merge(a.investigations, b.investigations),
        budget=budget.merge(a.budget, b.budget),
        ekb=ekb.merge(a.ekb, b.ekb),
        workload=workload.merge(a.workload, b.workload),
        events=a.events + b.events,
        last_position=max(a.last_position, b.last_position),
    )
