"""The pure KPI core: folds `apply(state, event) -> state` and KPI functions read off a state.

No I/O, no clocks, no randomness: time and identity come from the events.
"""
