"""A prometheus-client Collector that reads the KPIs from a `KpiSource` at scrape time.

Nothing is pushed into gauges: each scrape asks the source for its bundle (which folds whatever
arrived since the last scrape) and reads the KPI samples off it (`services.metrics.kpis`). Samples
are cached per KPI group (`kpis.Cache`): a group is re-read only when the sub-states it reads changed,
so a burst of aktualiseringar re-reads intake, not every placement. Every family of the KPI catalogue
is always present (HELP and TYPE), even without samples, so a dashboard's metric names can be checked
against an empty scrape.

`casestream_events_appended_total` (events appended, lagrade händelser) is a counter read off the
store at scrape time: positions are gap-free, so the head position is the number of events ever
appended, whichever process appended them, and an exporter restart does not reset it.

The forecast band (`casestream_forecast_band_sek`) comes from `forecast_band.BandCache`: computed on
the first scrape, then again only when the placements or the budget changed (in the background, the
previous band served meanwhile), never per scrape.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.metrics import catalogue, kpis
from services.metrics.forecast_band import BandCache
from services.metrics.source import KpiSource, reading

APPENDED = "casestream_events_appended_total"


def _family(spec: catalogue.Spec) -> GaugeMetricFamily | CounterMetricFamily:
    if spec.kind == "counter":
        return CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
    return GaugeMetricFamily(spec.name, spec.help, labels=list(spec.labels))


class KpiCollector(Collector):
    def __init__(self, source: KpiSource, day: Callable[[], date], *, small_cell_threshold: int,
                 investigation_limit_days: int, band: BandCache | None = None) -> None:
        self._source = source
        self._day = day
        self._threshold = small_cell_threshold
        self._limit = investigation_limit_days
        self._lock = threading.Lock()
        self._cache = kpis.Cache()
        self._band = band or BandCache()

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not fold the store; names are checked against the catalogue

    def current(self) -> list[kpis.Sample]:
        """The KPI samples now (the source folds new events first), plus the store's freshness."""
        started = time.perf_counter()
        with self._lock, reading(self._source):
            fresh = self._source.freshness()
            state = self._source.bundle()
            day = self._day()
            samples = self._cache.samples(state, kpis.Options(day, self._threshold, self._limit))
            samples.extend(self._band.samples(state, day))
        samples.append(kpis.Sample("casestream_store_head_position", (), float(fresh.position)))
        samples.append(kpis.Sample(APPENDED, (), float(fresh.position)))  # gap-free: head = appended
        samples.append(kpis.Sample("casestream_kpi_read_duration_seconds", (), time.perf_counter() - started))
        if fresh.appended_at is not None:
            samples.append(kpis.Sample("casestream_kpi_last_event_timestamp_seconds", (),
                                       fresh.appended_at.timestamp()))
        return samples

    def collect(self) -> Iterator[Metric]:
        by_name: dict[str, list[kpis.Sample]] = {}
        for sample in self.current():
            by_name.setdefault(sample.name, []).append(sample)
        for spec in catalogue.KPI:
            family = _family(spec)
            for sample in by_name.get(spec.name, []):
                labels = dict(sample.labels)
                family.add_metric([labels[name] for name in spec.labels], sample.value)
            yield family
