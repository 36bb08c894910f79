"""Screen texts in Swedish (the reports' own terms) with an English toggle.

`t(key)` gives the text in the chosen language (`st.session_state["lang"]`, "sv" by default); a key
without an English entry falls back to Swedish. Column headings of report tables are the reports'
Swedish headings; `column(key, swedish)` gives the English heading when the toggle is on.
"""

from __future__ import annotations

from typing import Final

import streamlit as st

TEXTS: Final[dict[str, tuple[str, str]]] = {
    "app_title": ("casestream — socialnämndens nyckeltal", "casestream — social services KPIs"),
    "english": ("English", "English"),
    "page_overview": ("Översikt", "Overview"),
    "page_external": ("Externa köp", "External purchases"),
    "page_occupancy": ("Beläggning", "Occupancy"),
    "page_cases": ("Aktualiseringar och utredningar", "Intake and investigations"),
    "page_forecast": ("Prognos", "Forecast"),
    "period": ("Period", "Period"),
    "period_help": ("Första och sista dag (inklusive)", "First and last day (inclusive)"),
    "freshness": ("Datats färskhet", "Data freshness"),
    "newest_event": ("Senaste händelse", "Newest event"),
    "age": ("ålder", "age"),
    "position": ("position", "position"),
    "worker_lag": ("Fördröjning i bearbetning", "Worker lag"),
    "lag_unknown": ("ingen worker (läser händelselagret direkt)",
                    "no worker (reads the event store directly)"),
    "events": ("händelser", "events"),
    "empty_store": ("Inga händelser ännu", "No events yet"),
    "vs_previous": ("mot föregående period", "vs previous period"),
    "vs_budget": ("mot budget", "vs budget"),
    "download_csv": ("Ladda ner CSV", "Download CSV"),
    "download_xlsx": ("Ladda ner Excel", "Download Excel"),
    "small_cells": ("Antal under {n} visas som \"<{n}\" (röjandeskydd).",
                    "Counts below {n} are shown as \"<{n}\" (small-cell protection)."),
    "hidden_cells": ("{k} celler dolda", "{k} cells hidden"),
    "heatmap": ("Beläggningsgrad per enhet och månad (%)", "Occupancy per unit and month (%)"),
    "places_over_time": ("Platser över tid", "Places over time"),
    "occupancy_table": ("Beläggningsgrad egna verksamheter", "Occupancy of own units"),
    "intake_chart": ("Aktualiseringar per kanal och månad", "Intake by channel and month"),
    "rolling_mean": ("Rullande 12-månadersmedelvärde", "Rolling 12-month mean"),
    "intake_table": ("Aktualiseringar", "Intake"),
    "investigations_table": ("Utredningar", "Investigations"),
    "investigations_chart": ("Inledda och avslutade utredningar", "Investigations opened and closed"),
    "opened": ("Inledda", "Opened"),
    "closed": ("Avslutade", "Closed"),
    "forecast_chart": ("Prognos mot budget under året", "Forecast vs budget through the year"),
    "forecast_table": ("Helårsprognos per verksamhet", "Full-year forecast per line"),
    "forecast_total": ("Prognos total kostnad", "Forecast total cost"),
    "budget": ("Budget", "Budget"),
    "deviation": ("Avvikelse", "Deviation"),
    "through": ("Utfall t.o.m.", "Outcome through"),
    "reported_on": ("Som rapporterat den", "As reported on"),
    "as_reported": ("Som rapporterat", "As reported"),
    "as_known_now": ("Som känt nu", "As known now"),
    "difference": ("Skillnad", "Difference"),
    "line": ("Verksamhet", "Line"),
    "target_group": ("Målgrupp", "Target group"),
    "explained_by": ("Skillnaden förklaras av händelser registrerade efter dagen med affärsdatum i perioden",
                     "The difference is explained by events recorded after the day with a business date in "
                     "the period"),
    "no_changes": ("Inga händelser har registrerats i efterhand för perioden.",
                   "No events were recorded afterwards for the period."),
    "kind": ("Slag", "Kind"),
    "event_type": ("Händelsetyp", "Event type"),
    "count": ("Antal", "Count"),
    "changes_unknown": ("Källan kan inte lista händelser efter registreringstid.",
                        "The source cannot list events by record time."),
    "month": ("Månad", "Month"),
    "unit": ("Enhet", "Unit"),
    "channel": ("Kanal", "Channel"),
    "no_data": ("Inga data för perioden.", "No data for the period."),
    "persons_per_day": ("Personer snitt per dygn", "Average persons per day"),
    "cost_per_day": ("Kostnad per vårddygn, ovägt medelvärde", "Cost per care day, unweighted mean"),
    "cost_per_day_weighted": ("Kostnad per vårddygn, vägt medelvärde", "Cost per care day, weighted mean"),
    "occupancy": ("Beläggningsgrad egna boenden", "Occupancy of own residential units"),
    "intake_month": ("Aktualiseringar denna månad", "Intake this month"),
    "forecast_deviation": ("Prognosavvikelse mot budget", "Forecast deviation from budget"),
    "Sen registrering": ("Sen registrering", "Late registration"),
    "Rättelse": ("Rättelse", "Correction"),
    "Makulering": ("Makulering", "Retraction"),
    "band_title": ("Helårsprognos med osäkerhet (p10–p90)", "Full-year forecast with uncertainty (p10–p90)"),
    "band_p50_total": ("Prognos p50 totalt", "Forecast p50, total"),
    "band_range": ("Prognos p10–p90 totalt (mnkr)", "Forecast p10–p90, total (mnkr)"),
    "band_p50": ("Prognos p50", "Forecast p50"),
    "run_rate": ("Prognos i takt", "Run-rate forecast"),
    "forecast_date": ("Prognosdatum", "Forecast date"),
    "band_history": ("Prognoshistorik per månadsskifte", "Forecast history by month end"),
    "band_history_note": ("Prognosen som den stod vid varje månadsskifte (som känd då; tabellen nedan är som "
                          "känt nu); p10–p90 skuggat.",
                          "The forecast as it stood at each month end (as known then; the table below is as "
                          "known now); p10–p90 shaded."),
    "band_at_date": ("Prognosen per {day} (som känd nu); stapeln är p10–p90.",
                     "The forecast on {day} (as known now); the bar is p10–p90."),
    "scenario_file": ("Scenario", "Scenario"),
    "no_scenario": ("Inget scenario", "No scenario"),
    "scenario_upload": ("Eller ladda upp en scenariofil (YAML/JSON)",
                        "Or upload a scenario file (YAML/JSON)"),
    "scenario_error": ("Scenariofilen kan inte användas", "The scenario file cannot be used"),
    "scenarios_title": ("Scenarier jämfört med basprognosen", "Scenarios compared with the base forecast"),
    # sign-in, roles, access log (issue 9)
    "page_log_review": ("Logguppföljning", "Log review"),
    "sign_in_off": ("Inloggning avstängd", "Sign-in switched off"),
    "role": ("Roll", "Role"),
    "signed_in_as": ("Inloggad, roll: {role}", "Signed in, role: {role}"),
    "log_in": ("Logga in", "Sign in"),
    "log_out": ("Logga ut", "Sign out"),
    "login_title": ("Logga in", "Sign in"),
    "login_text": ("Logga in med kommunens inloggning för att se nyckeltalen.",
                   "Sign in with the municipality's sign-in to see the figures."),
    "no_role_title": ("Ingen behörighet", "No access"),
    "no_role": ("Du är inloggad men har ingen roll i casestream (översikt, enhetsnivå eller controller). "
                "Kontakta systemförvaltaren för att få behörighet.",
                "You are signed in but have no casestream role (overview, unit level or controller). "
                "Ask the system administrator for access."),
    "bad_subject": ("Inloggningen saknar ett pseudonymt användar-id (sub) och kan inte loggas. "
                    "Kontakta systemförvaltaren.",
                    "The sign-in has no pseudonymous user id (sub) and cannot be logged. "
                    "Ask the system administrator."),
    "log_failed": ("Visningen kunde inte loggas, så uppgifterna visas inte: {error}",
                   "The view could not be logged, so the figures are not shown: {error}"),
    "all_units": ("Alla enheter", "All units"),
    "log_review_month": ("Månad", "Month"),
    "log_review_help": ("Visningar av uppgifter på enhetsnivå, uttag med råa siffror och visningar av "
                        "logguppföljningen, per användare (pseudonymt subjekt).",
                        "Views of unit-level figures, raw-figure report runs and views of the log review, "
                        "per user (pseudonymous subject)."),
}

COLUMNS_EN: Final[dict[str, str]] = {
    "line": "Line", "target_group": "Target group", "price_unit": "Price unit", "group": "Block",
    "persons_per_day": "Average persons per day", "budget_persons_per_day": "Budget persons per day",
    "individuals": "Individuals", "cost_per_day": "Cost per care day", "budget_price_sek": "Budget price",
    "budget_sek": "Budget (mnkr)", "period_deviation_sek": "Period deviation (mnkr)",
    "forecast_persons_per_day": "Forecast persons", "forecast_price_sek": "Forecast price",
    "forecast_deviation_sek": "Forecast deviation (mnkr)", "forecast_total_sek": "Forecast total (mnkr)",
    "cost_per_day_weighted": "Cost per care day, weighted", "unit": "Unit", "places": "Places",
    "ack": "Accumulated (%)", "occupied_places_per_day": "Occupied places per day", "month": "Month",
    "total": "Intake", "channel_report": "Report", "channel_application": "Application",
    "channel_request": "Request", "target_group_children": "Children", "target_group_youth": "Youth",
    "target_group_adults": "Adults", "application_share_pct": "Application share (%)",
    "mean_per_month": "Mean per month", "rolling_12m_mean": "Rolling 12-month mean",
    "opened_children": "Opened, children", "opened_youth": "Opened, youth", "opened_adults": "Opened, adults",
    "opened_total": "Opened, total", "closed_total": "Closed", "mean_days": "Duration, mean (days)",
    "median_days": "Duration, median (days)", "average_per_month": "Opened per month",
    "overdue": "Open past the limit", "basis": "Basis", "reason": "Adjustment reason",
    "to_date_sek": "Outcome to date (mnkr)", "p10_sek": "Forecast p10 (mnkr)",
    "p50_sek": "Forecast p50 (mnkr)", "p90_sek": "Forecast p90 (mnkr)",
    "run_rate_total_sek": "Run-rate forecast (mnkr)",
    "deviation_p50_sek": "Deviation budget − p50 (mnkr)", "open_placements": "Open placements",
    "expected_new": "Expected new",
}


def lang() -> str:
    return "en" if st.session_state.get("lang_en", False) else "sv"


def t(key: str, **fmt: object) -> str:
    sv, en = TEXTS.get(key, (key, key))
    text = en if lang() == "en" else sv
    return text.format(**fmt) if fmt else text


def column(key: str, swedish: str) -> str:
    """A table heading: the report's Swedish heading, or its English name when the toggle is on."""
    return COLUMNS_EN.get(key, swedish) if lang() == "en" else swedish
