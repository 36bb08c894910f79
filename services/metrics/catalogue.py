"""Every metric name the casestream processes export, with its type, HELP text and label names.

One catalogue, so the exporter, the pipeline helpers, the dashboards and the tests agree on names.
`KPI` is what the exporter serves (the KPI gauges plus the store's own figures, among them the one
counter of appended events: the store is its source, so it is right whichever process appended and
survives exporter restarts); `PIPELINE` is what each relay / worker process serves about itself.
Conventions: prefix `casestream_`, base units (seconds, SEK, ratios 0–1 instead of percent), `_total`
only on counters, labels only from small fixed sets (unit id, kind, category, target_group, channel,
quantile, projection, topic, partition, reason) — never a case, person or placement id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["gauge", "counter"]


@dataclass(frozen=True, slots=True)
class Spec:
    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()


LINE: Final = ("category", "target_group")

KPI: Final[tuple[Spec, ...]] = (
    Spec("casestream_kpi_reference_timestamp_seconds", "gauge",
         "Start of the business day (Europe/Stockholm) the KPI gauges refer to, as a Unix timestamp."),
    Spec("casestream_kpi_events", "gauge", "Events folded into the KPI state the gauges are read from."),
    Spec("casestream_kpi_position", "gauge", "Highest store position folded into the KPI state."),
    Spec("casestream_kpi_last_event_timestamp_seconds", "gauge",
         "Store append time of the newest event folded into the KPI state (Unix timestamp)."),
    Spec("casestream_store_head_position", "gauge", "Highest position in the event store."),
    Spec("casestream_events_appended_total", "counter",
         "Events appended to the event store by every writer: the store's head position, read at scrape "
         "time (positions are gap-free)."),
    Spec("casestream_kpi_read_duration_seconds", "gauge",
         "Time this scrape took to fold new events and read the KPIs off the state."),
    Spec("casestream_unit_places", "gauge", "Places of an own unit on the reference day.", ("unit", "kind")),
    Spec("casestream_unit_occupancy_month_ratio", "gauge",
         "Occupancy (beläggningsgrad) of an own unit in the current month up to the reference day.",
         ("unit", "kind")),
    Spec("casestream_unit_occupancy_accumulated_ratio", "gauge",
         "Accumulated occupancy (Ack) of an own unit, year to date: unweighted mean of monthly occupancy.",
         ("unit", "kind")),
    Spec("casestream_line_persons_per_day", "gauge",
         "Average persons per day (personer snitt per dygn) of an externa-köp line, year to date.", LINE),
    Spec("casestream_line_cost_per_care_day_sek", "gauge",
         "Cost per care day (kostnad snitt per dygn) of an externa-köp line, year to date, in SEK.", LINE),
    Spec("casestream_line_budget_persons_per_day", "gauge",
         "Budgeted persons per day of an externa-köp line for the current year.", LINE),
    Spec("casestream_headline_cost_per_care_day_sek", "gauge",
         "Mean cost per care day over the day-priced lines, year to date, in SEK "
         "(weighting=unweighted is the reports' headline, weighted is total cost / total care days).",
         ("weighting",)),
    Spec("casestream_forecast_total_sek", "gauge",
         "Run-rate full-year forecast (helårsprognos) of an externa-köp line, in SEK.", LINE),
    Spec("casestream_forecast_band_sek", "gauge",
         "Simulated full-year forecast (helårsprognos) of an externa-köp line at quantile p10, p50 or p90, "
         "in SEK.", (*LINE, "quantile")),
    Spec("casestream_forecast_budget_sek", "gauge", "Annual budget of an externa-köp line, in SEK.", LINE),
    Spec("casestream_forecast_deviation_sek", "gauge",
         "Forecast deviation (prognosavvikelse) = annual budget - forecast of a line, in SEK "
         "(negative = overspend).", LINE),
    Spec("casestream_intake_month_cases", "gauge",
         "Actualised cases (aktualiseringar) in the current month up to the reference day, by channel.",
         ("channel",)),
    Spec("casestream_intake_month_all_cases", "gauge",
         "Actualised cases (aktualiseringar) in the current month up to the reference day, all channels."),
    Spec("casestream_intake_rolling_mean_cases", "gauge",
         "Rolling 12-month mean of monthly actualised cases, through the previous month."),
    Spec("casestream_investigations_overdue_cases", "gauge",
         "Open investigations (utredningar) older than the statutory limit on the reference day."),
    Spec("casestream_investigations_overdue_by_group_cases", "gauge",
         "Open investigations older than the limit on the reference day, by target group.",
         ("target_group",)),
    Spec("casestream_investigation_limit_days", "gauge", "The investigation duration limit used, in days."),
)

PIPELINE: Final[tuple[Spec, ...]] = (
    Spec("casestream_events_published_total", "counter", "Events published to the broker by this process."),
    Spec("casestream_events_projected_total", "counter", "Events applied to a projection by this process.",
         ("projection",)),
    Spec("casestream_events_dead_lettered_total", "counter",
         "Messages sent to the dead-letter topic by this process, by reason.", ("reason",)),
    Spec("casestream_consumer_lag_messages", "gauge",
         "Consumer lag: fetch high watermark minus the next offset to consume, per partition.",
         ("topic", "partition")),
    Spec("casestream_projection_position", "gauge",
         "Highest store position applied to a projection, per partition.", ("projection", "partition")),
    Spec("casestream_projection_last_event_timestamp_seconds", "gauge",
         "Store append time of the newest event applied to a projection (Unix timestamp).", ("projection",)),
    Spec("casestream_projection_staleness_seconds", "gauge",
         "Age of the newest event applied to a projection, at scrape time.", ("projection",)),
    Spec("casestream_rebuild_progress_ratio", "gauge",
         "Progress of a projection rebuild (events replayed / events to replay).", ("projection",)),
    Spec("casestream_worker_up", "gauge", "1 while the worker's consume loop runs, 0 when it has stopped."),
)

ALL: Final[tuple[Spec, ...]] = KPI + PIPELINE
DEAD_LETTER_REASONS: Final = ("decode_error", "validation_error", "projection_error", "other")
BAND_QUANTILES: Final = ("p10", "p50", "p90")


def exposed_names() -> frozenset[str]:
    """Every sample name a scrape can contain (counters also expose `_created`)."""
    names = {s.name for s in ALL}
    names |= {s.name.removesuffix("_total") + "_created" for s in ALL if s.kind == "counter"}
    return frozenset(names)
