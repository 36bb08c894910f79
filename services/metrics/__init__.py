"""Prometheus metrics: the KPI exporter (`exporter`), pipeline health (`pipeline.PipelineMetrics`),
the metric catalogue (`catalogue`) and the Grafana dashboards (`dashboards`). Docs: docs/metrics.md.

Importing this package does nothing; registries are built by `exporter.build_registry` and
`pipeline.PipelineMetrics()` inside the processes that serve them.
"""
