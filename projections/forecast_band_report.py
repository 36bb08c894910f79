"""The band forecast table (Helårsprognos med osäkerhet): p10 / p50 / p90 per line vs budget and run rate.

One detail row per externa-köp line (REPORT_LINES order, then any other line with figures) and a
total row. Columns, money in SEK (CONVENTIONS §4; docs/forecast.md):

* `to_date_sek` — **utfall hittills**, cost 1 January to the forecast date (exact);
* `p10_sek`, `p50_sek`, `p90_sek`, `mean_sek` — the simulated **helårsprognos** band and mean;
* `run_rate_total_sek` — **prognos i takt**, the report's run-rate figure (`projections.forecast`,
  checks R10–R12) for the period 1 January to the forecast date, before any prognosjustering;
* `forecast_total_sek` — the run-rate report's forecast after any prognosjustering;
* `budget_sek` and `deviation_p50_sek` = budget − p50 (**prognosavvikelse**, positive = surplus);
* `open_placements`, `expected_new` — placements open at the forecast date, expected new ones;
* per scenario `s`: `scenario_<s>_p50_sek` and `scenario_<s>_change_sek` (scenario p50 − base p50).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction

from events.vocabulary import CATEGORY_SV, REPORT_LINES, report_group
from projections.forecast import LineForecast
from projections.forecast_sim import Forecast, LineBand
from projections.lines import LineKey
from projections.reports.base import Column, Report, Value, mnkr
from projections.scenarios import Difference

BASE_COLUMNS = (
    Column("group", "Block", "text"),
    Column("category", "Kategori", "text"),
    Column("target_group", "Målgrupp", "text"),
    Column("line", "Verksamhet", "text"),
    mnkr("to_date_sek", "Utfall hittills"),
    mnkr("p10_sek", "Prognos p10"),
    mnkr("p50_sek", "Prognos p50"),
    mnkr("p90_sek", "Prognos p90"),
    mnkr("mean_sek", "Prognos medel"),
    mnkr("run_rate_total_sek", "Prognos i takt"),
    mnkr("forecast_total_sek", "Prognos (rapport)"),
    mnkr("budget_sek", "Budget helår"),
    mnkr("deviation_p50_sek", "Avvikelse budget − p50"),
    Column("open_placements", "Pågående placeringar", "int"),
    Column("expected_new", "Förväntade nya", "number", decimals=1),
)


def ordered_keys(keys: Sequence[LineKey]) -> list[LineKey]:
    report = [LineKey(line.category, line.target_group) for line in REPORT_LINES]
    return [k for k in report if k in keys] + sorted(k for k in keys if k not in set(report))


def _slug(index: int) -> str:
    return f"scenario_{index}"


def band_report(
    base: Forecast, run_rate: Mapping[LineKey, LineForecast], budgets: Mapping[LineKey, Fraction],
    scenarios: Sequence[tuple[Forecast, Mapping[LineKey | None, Difference]]] = (),
) -> Report:
    """The table for one forecast date; scenarios (forecast, comparison) add two columns each."""
    extra = [c for i, (fc, _) in enumerate(scenarios, start=1) for c in (
        mnkr(f"{_slug(i)}_p50_sek", f"{fc.label}: p50"),
        mnkr(f"{_slug(i)}_change_sek", f"{fc.label}: skillnad p50"))]
    columns = (*BASE_COLUMNS, *extra, Column("row_type", "Radtyp", "text"))
    keys = ordered_keys([*base.lines, *(k for fc, _ in scenarios for k in fc.lines if k not in base.lines)])
    rows = [_row(key, base.lines.get(key), run_rate.get(key), budgets.get(key, Fraction(0)), scenarios)
            for key in keys]
    rows.append(_total(base, rows, scenarios))
    notes = [f"Prognosdatum {base.as_of}, {base.simulations} simuleringar; p10–p90 är ett 80 %-intervall.",
             *(note for fc, _ in scenarios for note in fc.notes)]
    title = f"Helårsprognos {base.year} med osäkerhet, externa köp"
    return Report("forecast-band", title, columns, rows, notes)


def _band_cells(band: LineBand | None) -> dict[str, Value]:
    if band is None:
        return dict.fromkeys(("to_date_sek", "p10_sek", "p50_sek", "p90_sek", "mean_sek"), Fraction(0))
    return {"to_date_sek": band.to_date_sek, "p10_sek": band.p10_sek, "p50_sek": band.p50_sek,
            "p90_sek": band.p90_sek, "mean_sek": band.mean_sek, "open_placements": band.open_placements,
            "expected_new": Fraction(round(band.expected_new * 10), 10)}


def _row(key: LineKey, band: LineBand | None, rr: LineForecast | None, budget_sek: Fraction,
         scenarios: Sequence[tuple[Forecast, Mapping[LineKey | None, Difference]]]) -> dict[str, Value]:
    row: dict[str, Value] = {
        "group": report_group(key.category, key.target_group), "category": key.category,
        "target_group": key.target_group, "line": CATEGORY_SV.get(key.category, key.category),
        **_band_cells(band),
        "run_rate_total_sek": None if rr is None else rr.run_rate_total_sek,
        "forecast_total_sek": None if rr is None else rr.total_sek,
        "budget_sek": budget_sek, "row_type": "detail",
    }
    p50 = band.p50_sek if band is not None else Fraction(0)
    row["deviation_p50_sek"] = budget_sek - p50
    for i, (fc, diff) in enumerate(scenarios, start=1):
        alt = fc.lines.get(key)
        row[f"{_slug(i)}_p50_sek"] = None if alt is None else alt.p50_sek
        row[f"{_slug(i)}_change_sek"] = None if key not in diff else diff[key].p50_change_sek
    return row


def _sum(rows: list[dict[str, Value]], key: str) -> Fraction | None:
    values = [v for r in rows if isinstance(v := r.get(key), Fraction | int)]
    return sum((Fraction(v) for v in values), Fraction(0)) if values else None


def _total(base: Forecast, rows: list[dict[str, Value]],
           scenarios: Sequence[tuple[Forecast, Mapping[LineKey | None, Difference]]]) -> dict[str, Value]:
    """Totals: sums for exact columns; the band of the per-simulation sums (not a sum of percentiles)."""
    total: dict[str, Value] = {"group": "all", "line": "Totalt", "row_type": "total"}
    total.update(_band_cells(base.total))
    for key in ("run_rate_total_sek", "forecast_total_sek"):
        total[key] = _sum(rows, key)
    budget_sek = _sum(rows, "budget_sek") or Fraction(0)
    total["budget_sek"] = budget_sek
    total["deviation_p50_sek"] = budget_sek - base.total.p50_sek
    for i, (fc, diff) in enumerate(scenarios, start=1):
        total[f"{_slug(i)}_p50_sek"] = fc.total.p50_sek
        total[f"{_slug(i)}_change_sek"] = diff[None].p50_change_sek
    return total
