"""PipelineMetrics: the counters and gauges pipeline processes report, each process on its own endpoint."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from services.metrics import catalogue
from services.metrics.pipeline import PipelineMetrics

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def values(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_counters_gauges_and_staleness() -> None:
    now = [T0.timestamp() + 90]
    m = PipelineMetrics(clock=lambda: now[0])
    m.published(60)
    m.projected("bundle", 40, newest_appended_at=T0, partition=2, position=1234)
    m.projected("bundle", 1, newest_appended_at=datetime(2026, 12, 1, 7, 0, tzinfo=UTC))  # older: ignored
    m.dead_lettered("decode_error")
    m.dead_lettered("person 19121212-1212 broke it")  # free text never becomes a label
    m.lag("case-events", 2, high_watermark=500, next_offset=420)
    m.lag("case-events", 3, high_watermark=10, next_offset=12)
    m.rebuild_progress("bundle", 250, 1000)
    m.worker_up(True)
    v = values(generate_latest(m.registry).decode())
    assert not any(name.startswith("casestream_events_appended") for name, _ in v)  # the exporter's
    assert v[("casestream_events_published_total", ())] == 60
    assert v[("casestream_events_projected_total", (("projection", "bundle"),))] == 41
    assert v[("casestream_events_dead_lettered_total", (("reason", "decode_error"),))] == 1
    assert v[("casestream_events_dead_lettered_total", (("reason", "other"),))] == 1
    assert v[("casestream_consumer_lag_messages", (("partition", "2"), ("topic", "case-events")))] == 80
    assert v[("casestream_consumer_lag_messages", (("partition", "3"), ("topic", "case-events")))] == 0
    assert v[("casestream_projection_position", (("partition", "2"), ("projection", "bundle")))] == 1234
    last = v[("casestream_projection_last_event_timestamp_seconds", (("projection", "bundle"),))]
    assert last == T0.timestamp()
    assert v[("casestream_projection_staleness_seconds", (("projection", "bundle"),))] == 90
    assert v[("casestream_rebuild_progress_ratio", (("projection", "bundle"),))] == 0.25
    assert v[("casestream_worker_up", ())] == 1
    now[0] += 30
    later = values(generate_latest(m.registry).decode())
    assert later[("casestream_projection_staleness_seconds", (("projection", "bundle"),))] == 120


def test_every_name_is_in_the_catalogue_with_its_type() -> None:
    m = PipelineMetrics()
    m.projected("bundle")
    m.dead_lettered("other")
    m.lag("t", 0, 1, 0)
    m.rebuild_progress("bundle", 0, 0)
    text = generate_latest(m.registry).decode()
    families = {f.name: f.type for f in text_string_to_metric_families(text)
                if not f.name.endswith("_created")}
    specs = {s.name.removesuffix("_total"): s.kind for s in catalogue.PIPELINE}
    assert families == specs
    exposed = {s.name for f in text_string_to_metric_families(text) for s in f.samples}
    assert exposed <= catalogue.exposed_names()


def test_two_processes_serve_separate_endpoints() -> None:
    a, b = PipelineMetrics(), PipelineMetrics()
    a.projected("bundle", 3)
    b.projected("bundle", 5)
    servers = [a.serve(0), b.serve(0)]
    try:
        got = []
        for server in servers:
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as resp:
                got.append(values(resp.read().decode())[("casestream_events_projected_total",
                                                         (("projection", "bundle"),))])
        assert got == [3, 5]
    finally:
        for server in servers:
            server.shutdown()
