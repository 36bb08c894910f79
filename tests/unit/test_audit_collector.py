"""`services.audit.collector.paused`: the cyclic collector off inside, restored as it was after, also
when the body raises, and as a decorator (how `replay.replay` takes it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from projections import bundle
from services.audit import collector
from services.audit.checkpoint_state import dump_state, load_state


@pytest.fixture
def collecting() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_off_inside_and_on_again_after(collecting: None) -> None:
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_restored_when_the_body_raises(collecting: None) -> None:
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("in the body")
    assert gc.isenabled()


def test_left_off_where_it_was_off(collecting: None) -> None:
    gc.disable()
    with collector.paused():
        pass
    assert not gc.isenabled()  # a caller that paused it keeps it paused
    gc.enable()


def test_as_a_decorator_each_call(collecting: None) -> None:
    seen: list[bool] = []

    @collector.paused()
    def body() -> None:
        seen.append(gc.isenabled())

    body()
    body()
    assert seen == [False, False]
    assert gc.isenabled()


def test_a_state_loads_with_the_collector_as_it_was(collecting: None) -> None:
    state = bundle.compact(frozenset())
    again = load_state(dump_state(state))
    assert isinstance(again, bundle.State)
    assert gc.isenabled()
