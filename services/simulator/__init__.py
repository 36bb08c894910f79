"""The simulator: a seeded, reproducible event history of a municipality like Örebro, and live events.

`Simulation(SimulationConfig(...), random.Random(seed))` generates the history (`history`), calibrated
from one data file naming its source report (`calibration`); `sinks` write it to JSONL or a store;
`live` keeps producing events at a rate; `cli` is the `casestream simulate` command.
"""
