"""The Grafana dashboards, built with grafana-foundation-sdk and written as JSON to deploy/grafana/.

Four dashboards: Översikt (overview), Externa köp, Beläggning and Pipeline health. Panels query the
exporter's gauges and the recording rules of deploy/prometheus/rules (a test checks every metric a
panel names exists). Titles are Swedish (user-facing); the datasource is the provisioned Prometheus
(uid `casestream-prometheus`). Regenerate with `python deploy/grafana/build.py`; a test fails when the
committed JSON differs from a fresh build.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions, VizLegendOptions, VizTooltipOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

BAND_QUANTILES = ("p10", "p50", "p90")
DATASOURCE = DataSourceRef(type_val="prometheus", uid="casestream-prometheus")
Query = tuple[str, str]  # (PromQL, legend)


P = TypeVar("P", timeseries.Panel, stat.Panel, bargauge.Panel)
Steps = Sequence[tuple[float | None, str]]
OCCUPANCY_STEPS: Steps = ((None, "red"), (0.95, "green"))
SURPLUS_STEPS: Steps = ((None, "red"), (0, "green"))
LINE = "{{category}} / {{target_group}}"
SEK = "currencySEK"


def _targets(panel: P, queries: Sequence[Query]) -> P:
    for i, (expr, legend) in enumerate(queries):
        panel = panel.with_target(prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(chr(65 + i)))
    return panel.datasource(DATASOURCE)


def _thresholds(steps: Steps) -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(v, c) for v, c in steps])


def series(title: str, queries: Sequence[Query], unit: str, *, span: int = 12) -> timeseries.Panel:
    legend = VizLegendOptions().show_legend(True).display_mode(LegendDisplayMode.LIST).placement(
        LegendPlacement.BOTTOM)
    panel = timeseries.Panel().title(title).unit(unit).height(8).span(span).legend(legend).tooltip(
        VizTooltipOptions().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
    return _targets(panel, queries)


def _last() -> ReduceDataOptions:
    return ReduceDataOptions().calcs(["lastNotNull"]).values(False)


def single(title: str, expr: str, unit: str, *, span: int = 6, steps: Steps = ()) -> stat.Panel:
    panel = _targets(stat.Panel().title(title).unit(unit).height(5).span(span).reduce_options(_last()),
                     [(expr, "")])
    return panel.thresholds(_thresholds(steps)) if steps else panel


def bars(title: str, expr: str, legend: str, unit: str, *, span: int = 12,
         steps: Steps = ()) -> bargauge.Panel:
    panel = _targets(bargauge.Panel().title(title).unit(unit).height(8).span(span).reduce_options(_last()),
                     [(expr, legend)])
    return panel.thresholds(_thresholds(steps)) if steps else panel


def _dashboard(uid: str, title: str, panels: Sequence[timeseries.Panel | stat.Panel | bargauge.Panel | Row],
               ) -> Dashboard:
    board = (Dashboard(title).uid(uid).tags(["casestream"]).timezone("Europe/Stockholm")
             .time("now-30d", "now").refresh("1m").readonly())
    for panel in panels:
        board = board.with_row(panel) if isinstance(panel, Row) else board.with_panel(panel)
    return board


def overview() -> Dashboard:
    return _dashboard("casestream-overview", "casestream – Översikt", [
        single("Beläggning ack, boenden längre perioder",
               'kind:casestream_unit_occupancy_accumulated_ratio:avg{kind="long_stay"}', "percentunit",
               steps=OCCUPANCY_STEPS),
        single("Prognosavvikelse externa köp", "job:casestream_forecast_deviation_sek:sum", SEK,
               steps=SURPLUS_STEPS),
        single("Aktualiseringar denna månad", "casestream_intake_month_all_cases", "short"),
        single("Utredningar över tidsgränsen", "casestream_investigations_overdue_cases", "short",
               steps=((None, "green"), (1, "red"))),
        series("Aktualiseringar per kanal, innevarande månad", [
            ("casestream_intake_month_cases", "{{channel}}"),
            ("casestream_intake_rolling_mean_cases", "rullande 12-månadersmedel")], "short"),
        series("Aktiva larm", [('count by (alertname) (ALERTS{alertstate="firing"})', "{{alertname}}")],
               "short"),
    ])


def external_purchases() -> Dashboard:
    return _dashboard("casestream-external-purchases", "casestream – Externa köp", [
        single("Prognos helår", "job:casestream_forecast_total_sek:sum", SEK, span=8),
        single("Budget helår", "job:casestream_forecast_budget_sek:sum", SEK, span=8),
        single("Prognosavvikelse", "job:casestream_forecast_deviation_sek:sum", SEK, span=8,
               steps=SURPLUS_STEPS),
        Row("Volym"),
        series("Personer snitt per dygn per rad", [("casestream_line_persons_per_day", LINE)], "short"),
        series("Personer per dygn mot budget", [("casestream:line_persons_per_day_over_budget:ratio", LINE)],
               "percentunit"),
        series("Personer snitt per dygn per målgrupp", [
            ("target_group:casestream_line_persons_per_day:sum", "{{target_group}}")], "short"),
        Row("Kostnad"),
        series("Kostnad snitt per dygn per rad", [("casestream_line_cost_per_care_day_sek", LINE)], SEK),
        series("Genomsnittlig kostnad per vårddygn", [
            ("casestream_headline_cost_per_care_day_sek", "{{weighting}}")], SEK),
        bars("Prognosavvikelse per rad", "casestream_forecast_deviation_sek", LINE, SEK, steps=SURPLUS_STEPS),
        Row("Prognos med osäkerhet"),
        series("Helårsprognos p10 / p50 / p90 per rad", [
            (f'casestream_forecast_band_sek{{quantile="{q}"}}', f"{LINE} {q}") for q in BAND_QUANTILES], SEK),
    ])


def occupancy() -> Dashboard:
    unit = "{{unit}}"
    return _dashboard("casestream-occupancy", "casestream – Beläggning", [
        bars("Beläggningsgrad ack per enhet", "casestream_unit_occupancy_accumulated_ratio", unit,
             "percentunit", steps=OCCUPANCY_STEPS),
        bars("Beläggningsgrad innevarande månad per enhet", "casestream_unit_occupancy_month_ratio", unit,
             "percentunit", steps=OCCUPANCY_STEPS),
        series("Beläggningsgrad ack per enhetstyp (ovägt medelvärde)", [
            ("kind:casestream_unit_occupancy_accumulated_ratio:avg", "{{kind}}"),
            ("casestream:occupancy_threshold_ratio", "mål {{kind}}")], "percentunit"),
        series("Platser per enhetstyp", [("kind:casestream_unit_places:sum", "{{kind}}")], "short"),
    ])


def pipeline_health() -> Dashboard:
    return _dashboard("casestream-pipeline", "casestream – Pipeline health", [
        series("Händelser per sekund", [
            ("job:casestream_events_appended:rate5m", "lagrade"),
            ("job:casestream_events_published:rate5m", "publicerade"),
            ("projection:casestream_events_projected:rate5m", "projicerade {{projection}}")], "ops"),
        series("Konsumentfördröjning per ämne", [("topic:casestream_consumer_lag_messages:sum", "{{topic}}")],
               "short"),
        series("Projektioners ålder (staleness)", [
            ("projection:casestream_projection_staleness_seconds:max", "{{projection}}")], "s"),
        series("Dead letters senaste timmen", [
            ("reason:casestream_events_dead_lettered:increase1h", "{{reason}}")], "short"),
        single("Arbetare uppe", "job:casestream_workers_up:sum", "short"),
        single("Ombyggnad klar", "projection:casestream_rebuild_progress_ratio:min", "percentunit"),
        single("Exportörens position", "casestream_kpi_position", "short"),
        series("Exportörens läsningstid per skrapning", [
            ("casestream_kpi_read_duration_seconds", "{{instance}}")], "s"),
        single("Store head", "casestream_store_head_position", "short"),
    ])


DASHBOARDS = {"overview": overview, "external-purchases": external_purchases, "occupancy": occupancy,
              "pipeline-health": pipeline_health}


def render(name: str) -> str:
    """A dashboard as stable JSON text (sorted keys, two-space indent, trailing newline)."""
    built = DASHBOARDS[name]().build()
    return json.dumps(built, cls=JSONEncoder, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in DASHBOARDS:
        path = directory / f"{name}.json"
        path.write_text(render(name), encoding="utf-8")
        written.append(path)
    return written


def panel_queries(dashboard_json: dict[str, Any]) -> list[str]:
    """Every PromQL expression of a dashboard's panels (rows included)."""
    exprs: list[str] = []
    for panel in dashboard_json.get("panels", []):
        exprs += [t["expr"] for t in panel.get("targets", []) if "expr" in t]
        exprs += panel_queries({"panels": panel.get("panels", [])})
    return exprs
