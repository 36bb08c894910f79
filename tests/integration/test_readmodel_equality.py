"""The read model equals a fold of the store: projector step -> SQLite fact tables -> rebuilt bundle.

No broker here: the projector gets the very messages the relay would publish (`message_of`), split
over partitions like the topic does, replayed and duplicated; the broker path is test_pipeline*.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.readmodel.facts import MODULES, relevant
from services.readmodel.persist import open_readmodel
from services.readmodel.source import bundle_from_readmodel
from services.reports import bundle_from_store
from services.store import open_store
from services.worker.projector import Projector
from tests.integration.pipeline_kit import assert_same_bundle, history, records_of


@pytest.mark.parametrize("seed", [1, 2])
def test_readmodel_equals_store_fold_with_replays(tmp_path: Path, seed: int) -> None:
    store = open_store("memory://")
    store.append(history(seed, 1500))
    engine = open_readmodel(f"sqlite:///{tmp_path}/rm.db")
    projector = Projector(engine)
    rng = random.Random(seed)
    parts = records_of(store.read_all())
    for p, recs in parts.items():  # uneven batches, each partition replayed from a random earlier point
        i = 0
        while i < len(recs):
            j = min(len(recs), i + rng.randint(1, 400))
            projector.process({p: recs[i:j]})
            i = j - rng.randint(0, min(50, j - i))  # re-deliver a tail: at-least-once
            if j == len(recs):
                break
    out = projector.process(parts)  # everything again: all skipped
    assert out.applied == 0 and out.skipped == sum(len(r) for r in parts.values())
    assert_same_bundle(bundle_from_readmodel(engine), bundle_from_store(store))
    known_at = store.get(next(iter(store.read_all(after=700, limit=1))).event_id).recorded_at
    live, folded = bundle_from_readmodel(engine, known_at), bundle_from_store(store, known_at)
    for name in MODULES:
        assert getattr(live, name) == getattr(folded, name)


def test_folding_only_relevant_events_equals_folding_all() -> None:
    events = history(7, 1500)
    for name, module in MODULES.items():
        assert module.fold(events) == module.fold(e for e in events if name in relevant(e)), name


def test_readmodel_equals_store_fold_on_simulated_data(tmp_path: Path) -> None:
    """The simulator's municipality (one year at 10 % scale): the same bundle and the same reports."""
    from datetime import date

    from events.timeutil import Period
    from services.reports import REPORT_NAMES, report_from_bundle
    from services.settings import Settings
    from services.simulator.history import Simulation, SimulationConfig
    from services.simulator.sinks import load_store

    store = open_store("memory://")
    sim = Simulation(
        SimulationConfig(start_year=2021, years=1, start=date(2021, 1, 1), scale=0.1), random.Random(5)
    )
    assert load_store(store, sim.events()).accepted > 1000
    projector = Projector(open_readmodel(f"sqlite:///{tmp_path}/rm.db"))
    parts = records_of(store.read_all())
    half = {p: recs[: len(recs) // 2] for p, recs in parts.items()}
    projector.process(half)
    projector.process(parts)  # the first halves again: skipped by position
    live, folded = bundle_from_readmodel(projector.engine), bundle_from_store(store)
    assert_same_bundle(live, folded)
    settings, period = Settings(), Period(date(2021, 1, 1), date(2021, 8, 31))
    for name in REPORT_NAMES:
        assert report_from_bundle(live, name, period, settings) == report_from_bundle(
            folded, name, period, settings
        )
