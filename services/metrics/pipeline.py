"""Pipeline health metrics: the small API the relay and the workers call.

Usage (one object per process, made by the process's composition root, never at import)::

    metrics = PipelineMetrics()              # its own private CollectorRegistry
    metrics.serve(port=9465)                 # this process's own /metrics endpoint
    metrics.published(n)                     # relay -> broker
    metrics.projected("bundle", n, newest_appended_at=event.appended_at, partition=p, position=pos)
    metrics.dead_lettered("decode_error")
    metrics.lag("casestream.events", partition, high_watermark, next_offset)
    metrics.rebuild_progress("bundle", done, total)
    metrics.worker_up(True)

**Several worker processes**: every process exports its own endpoint on its own port (worker *i* on
`settings.worker_metrics_port + i`) and Prometheus scrapes each one as its own target; the `instance`
label tells them apart and the recording rules `sum by (...)` across them. prometheus-client's
multiprocess mode (a shared directory of mmap files) is not used: it cannot serve callback gauges such
as staleness, and separate endpoints also show which worker is down (`up == 0`).

Events appended to the store are not counted here (a short-lived ingest would lose its count): the
exporter serves `casestream_events_appended_total` from the store's head position
(`services.metrics.collector`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.metrics.catalogue import DEAD_LETTER_REASONS, PIPELINE, Spec

_SPECS = {s.name: s for s in PIPELINE}


def _counter(name: str, registry: CollectorRegistry) -> Counter:
    spec = _SPECS[name]
    return Counter(spec.name.removesuffix("_total"), spec.help, list(spec.labels), registry=registry)


def _gauge(name: str, registry: CollectorRegistry) -> Gauge:
    spec = _SPECS[name]
    return Gauge(spec.name, spec.help, list(spec.labels), registry=registry)


class _Staleness(Collector):
    """casestream_projection_staleness_seconds: now − newest applied event, computed at scrape time."""

    def __init__(self, spec: Spec, clock: Callable[[], float]) -> None:
        self._spec, self._clock = spec, clock
        self.newest: dict[str, float] = {}

    def describe(self) -> Iterable[Metric]:
        return [GaugeMetricFamily(self._spec.name, self._spec.help, labels=list(self._spec.labels))]

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(self._spec.name, self._spec.help, labels=list(self._spec.labels))
        now = self._clock()
        for projection, newest in sorted(self.newest.items()):
            family.add_metric([projection], max(0.0, now - newest))
        yield family


class PipelineMetrics:
    """Counters and gauges of one pipeline process, on a private registry (pass one to share it)."""

    def __init__(self, registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._published = _counter("casestream_events_published_total", r)
        self._projected = _counter("casestream_events_projected_total", r)
        self._dead = _counter("casestream_events_dead_lettered_total", r)
        self._lag = _gauge("casestream_consumer_lag_messages", r)
        self._position = _gauge("casestream_projection_position", r)
        self._last_event = _gauge("casestream_projection_last_event_timestamp_seconds", r)
        self._rebuild = _gauge("casestream_rebuild_progress_ratio", r)
        self._up = _gauge("casestream_worker_up", r)
        self._staleness = _Staleness(_SPECS["casestream_projection_staleness_seconds"], clock)
        r.register(self._staleness)
        self._lock = threading.Lock()

    def published(self, n: int = 1) -> None:
        self._published.inc(n)

    def projected(self, projection: str, n: int = 1, *, newest_appended_at: datetime | None = None,
                  partition: int | None = None, position: int | None = None) -> None:
        """`n` events applied to `projection`; the newest one's append time feeds staleness."""
        self._projected.labels(projection).inc(n)
        if newest_appended_at is not None:
            ts = newest_appended_at.timestamp()
            with self._lock:
                if ts > self._staleness.newest.get(projection, float("-inf")):
                    self._staleness.newest[projection] = ts
                    self._last_event.labels(projection).set(ts)
        if partition is not None and position is not None:
            self._position.labels(projection, str(partition)).set(position)

    def dead_lettered(self, reason: str, n: int = 1) -> None:
        """A reason outside the fixed set is counted as "other" (labels stay a small fixed set)."""
        self._dead.labels(reason if reason in DEAD_LETTER_REASONS else "other").inc(n)

    def lag(self, topic: str, partition: int, high_watermark: int, next_offset: int) -> None:
        """Consumer lag from the fetch high watermark: messages not yet consumed (never negative)."""
        self._lag.labels(topic, str(partition)).set(max(0, high_watermark - next_offset))

    def rebuild_progress(self, projection: str, done: int, total: int) -> None:
        self._rebuild.labels(projection).set(1.0 if total <= 0 else min(1.0, done / total))

    def worker_up(self, up: bool = True) -> None:
        self._up.set(1 if up else 0)

    def serve(self, port: int, host: str = "127.0.0.1") -> Any:
        """Serve this registry on http://host:port/metrics in a daemon thread; returns the server."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        return server
