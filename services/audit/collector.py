"""The cyclic garbage collector, paused while a replay builds, folds and reads its state.

A replay's state is millions of small acyclic values (the compact states' columns, facts, counters):
while they are made, by the fold or by unpickling a checkpoint, the generational collector runs every
700 new containers and, each time the old generation has grown by a quarter, traverses all of it.
None of that frees anything (nothing in the state is cyclic); it costs time in proportion to the
state. So the fold (`columnar_loop.run`), a checkpoint's unpickling (`checkpoint_state.load_state`)
and a whole replay (`replay.replay`, from the first read to the last report) run with it paused, and
it is restored as it was after them. Values that do form cycles are collected once it runs again.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The cyclic collector off meanwhile, then as it was (on only if it was on before)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
