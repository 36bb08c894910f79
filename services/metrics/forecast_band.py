"""The forecast band gauges for the exporter, cached per bundle version: never a forecast per scrape.

`casestream_forecast_band_sek{category,target_group,quantile}` = p10 / p50 / p90 of the simulated
**helårsprognos** of an externa-köp line (`services.forecasting.bundle_gauges`, forecast as of the
reference day, as known now; seed `CASESTREAM_FORECAST_SEED`, `CASESTREAM_FORECAST_SIMULATIONS`
simulations). The band is money, like the run-rate forecast, and is exported for every line.

A forecast takes seconds on a real history, so `BandCache` keys its samples by (reference day, the
version of the placement and budget sub-states — `kpis.GROUPS["lines"]`'s version). The first scrape
of a store of at most `sync_limit` events computes the band before it answers (a small store's
forecast is on the first scrape); otherwise, and after every change, the scrape starts one background
recomputation on a copy of the two sub-states and keeps serving the previous band (none at first)
until it is done (`background=False` always recomputes before answering). A forecast
that fails is logged and leaves the band out; it is not retried until the version changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date

from projections import budget, bundle, care_costs
from projections.forecast_model import SimConfig
from services.forecasting import DEFAULT_SEED, Gauge, bundle_gauges
from services.metrics.kpis import GROUPS, Sample, Version

log = logging.getLogger(__name__)
Compute = Callable[..., list[Gauge]]
Key = tuple[date, Version]
SYNC_LIMIT = 20_000  # events: up to this store size the first scrape waits for the band (about 1 s)


def version(state: bundle.State) -> Version:
    """What the band depends on: the placements (care costs) and the budget, as `kpis` versions them."""
    return GROUPS["lines"][0](state)


def snapshot(state: bundle.State) -> bundle.State:
    """A copy of the two sub-states the forecast reads (the live bundle is extended in place)."""
    return bundle.State(care_costs=care_costs.merge(state.care_costs, care_costs.State()),
                        budget=budget.merge(state.budget, budget.State()))


class BandCache:
    def __init__(self, *, seed: int = DEFAULT_SEED, simulations: int = 1000, background: bool = True,
                 sync_limit: int = SYNC_LIMIT, compute: Compute = bundle_gauges) -> None:
        self._seed, self._config = seed, SimConfig(simulations=simulations)
        self._background, self._compute, self._sync_limit = background, compute, sync_limit
        self._lock = threading.Lock()
        self._key: Key | None = None  # the key of the samples served
        self._samples: list[Sample] = []
        self._job: threading.Thread | None = None
        self._job_key: Key | None = None

    def samples(self, state: bundle.State, day: date) -> list[Sample]:
        """The band samples; call while holding the source's reading lock (the state is read here)."""
        key = (day, version(state))
        with self._lock:
            if key in (self._key, self._job_key):
                return list(self._samples)
            first = self._key is None and self._job_key is None
            if not self._background or (first and state.events <= self._sync_limit):
                self._key, self._samples = key, self._run(state, day)
            elif self._job is None:
                self._start(key, snapshot(state), day)
            return list(self._samples)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a background recomputation (tests, orderly shutdown)."""
        job = self._job
        if job is not None:
            job.join(timeout)

    def _run(self, state: bundle.State, day: date) -> list[Sample]:
        try:
            gauges = self._compute(state, day, seed=self._seed, config=self._config)
        except Exception:  # a failing forecast must not take the other KPIs' scrape down
            log.exception("forecast band for %s failed; casestream_forecast_band_sek left out", day)
            return []
        return [Sample(g.name, g.labels, g.value) for g in gauges]

    def _start(self, key: Key, state: bundle.State, day: date) -> None:
        def job() -> None:
            samples = self._run(state, day)
            with self._lock:
                self._key, self._samples, self._job, self._job_key = key, samples, None, None

        self._job_key = key
        self._job = threading.Thread(target=job, name="forecast-band", daemon=True)
        self._job.start()
