"""The forecast band gauges for the exporter, cached per bundle version: never a forecast per scrape.

`casestream_forecast_band_sek{category,target_group,quantile}` = p10 / p50 / p90 of the simulated
**helårsprognos** of an externa-köp line (`services.forecasting.bundle_gauges`, forecast as of the
reference day, as known now; seed `CASESTREAM_FORECAST_SEED`, `CASESTREAM_FORECAST_SIMULATIONS`
simulations). The band is money, like the run-rate forecast, and is exported for every line.

A forecast takes seconds on a real history, so `BandCache` keys its samples by (reference day, the
version of the placement and budget sub-states — `kpis.GROUPS["lines"]`'s version). The first scrape
computes the band before it answers (a small store's forecast is on the first scrape); after a change
the scrape starts one background recomputation on a copy of the two sub-states and keeps serving the
previous band until it is done (`background=False` recomputes before answering instead). A forecast
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


def version(state: bundle.State) -> Version:
    """What the band depends on: the placements (care costs) and the budget, as `kpis` versions them."""
    return GROUPS["lines"][0](state)


def snapshot(state: bundle.State) -> bundle.State:
    """A copy of the two sub-states the forecast reads (the live bundle is extended in place)."""
    return bundle.State(care_costs=care_costs.merge(state.care_costs, care_costs.State()),
                        budget=budget.merge(state.budget, budget.State()))


class BandCache:
    def __init__(self, *, seed: int = DEFAULT_SEED, simulations: int = 1000, background: bool = True,
                 compute: Compute = bundle_gauges) -> None:
        self._seed, self._config = seed, SimConfig(simulations=simulations)
        self._background, self._compute = background, compute
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
            if self._key is None or not self._background:
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
