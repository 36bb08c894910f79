"""`casestream forecast`: the simulated p10/p50/p90 per line vs budget, with the run-rate figure beside it.

    casestream forecast --year 2021 [--as-of 2021-08-31] [--scenario FILE] [--seed S] [--simulations N]
                        [--format table|csv|json] [--history] [--db URL]

`--as-of` folds the store as known at the end of that day and forecasts from it; without it the
store as known now, from its latest business day. `--scenario` reads one or more scenarios from a
YAML or JSON file (format: docs/forecast.md) and adds their p50 and difference columns. `--history`
prints the forecast as it stood at each month end instead, plus the accuracy per line once the
year is closed. Registered through `services.commands.COMMAND_MODULES`.
"""

from __future__ import annotations

import re
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from projections.reports.base import Column, Report, Value, mnkr
from services.render import Format, render

if TYPE_CHECKING:
    from projections.forecast_sim import LineBand
    from projections.lines import LineKey
    from projections.scenarios import Scenario
    from services.store.base import EventStore

Db = Annotated[str | None, typer.Option("--db", envvar="CASESTREAM_DB", help="store URL")]


def _scenarios(path: Path | None) -> list[Scenario]:
    """The scenarios of a YAML/JSON file, parsed; a clear error naming the file and the field."""
    if path is None:
        return []
    import orjson
    import yaml

    from projections.scenarios import ScenarioError, parse

    if not path.is_file():
        raise typer.BadParameter(f"no such file: {path}", param_hint="--scenario")
    text = path.read_bytes()
    try:
        raw = orjson.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_yaml_loader())
    except (orjson.JSONDecodeError, yaml.YAMLError) as exc:
        raise typer.BadParameter(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}",
                                 param_hint="--scenario") from None
    try:
        return list(parse(raw, str(path)))
    except ScenarioError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scenario") from None


def _yaml_loader() -> type:
    """SafeLoader where only true/false are booleans (YAML 1.2): `on:`/`no:` stay strings."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    bool_tag = "tag:yaml.org,2002:bool"
    Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    booleans = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
    Loader.add_implicit_resolver(bool_tag, booleans, list("tTfF"))
    return Loader


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint="--as-of") from None


HISTORY_COLUMNS = (
    Column("month", "Månad", "text"), Column("line", "Verksamhet", "text"),
    mnkr("p10_sek", "Prognos p10"), mnkr("p50_sek", "Prognos p50"), mnkr("p90_sek", "Prognos p90"),
    mnkr("run_rate_total_sek", "Prognos i takt"), mnkr("outcome_sek", "Utfall helår"),
    Column("error_pct", "Prognosfel p50 (%)", "number", 1), Column("inside_band", "Inom p10–p90", "bool"),
    Column("row_type", "Radtyp", "text"),
)


def history_report(store: EventStore, year: int, seed: int, simulations: int) -> Report:
    """The total per month end, and each line's accuracy rows once the year is closed."""
    from projections.forecast_model import SimConfig
    from services.forecasting import YearNotClosed, accuracy, month_end_history

    history = month_end_history(store, year, seed=seed, config=SimConfig(simulations=simulations))
    notes: list[str] = []
    try:
        scored = {(a.month, a.key): a for a in accuracy(store, history, year)}
    except YearNotClosed as exc:
        scored, notes = {}, [f"Ingen träffsäkerhet ännu: {exc}"]
    rows: list[dict[str, Value]] = []
    for item in history:
        total_rr = sum((f.run_rate_total_sek for f in item.view.run_rate.values()), Fraction(0))
        lines: list[tuple[LineKey | None, LineBand, Fraction | None]]
        lines = [(None, item.view.base.total, total_rr)]
        lines += [(k, b, None) for k, b in item.view.base.lines.items() if (item.month, k) in scored]
        for key, band, rr in lines:
            acc = scored.get((item.month, key))
            rows.append({
                "month": str(item.month), "line": "Totalt" if key is None else str(key),
                "p10_sek": band.p10_sek, "p50_sek": band.p50_sek, "p90_sek": band.p90_sek,
                "run_rate_total_sek": rr, "outcome_sek": None if acc is None else acc.outcome_sek,
                "error_pct": None if acc is None else acc.error_pct,
                "inside_band": None if acc is None else acc.inside_band,
                "row_type": "total" if key is None else "detail"})
    title = f"Prognoshistorik {year} (per månadsslut)"
    return Report("forecast-history", title, HISTORY_COLUMNS, rows, notes)


ScenarioOpt = Annotated[Path | None, typer.Option("--scenario", help="YAML/JSON file of scenarios")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="simulation seed (default: settings)")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="forecast as known at the end of this day")]
SimOpt = Annotated[int | None, typer.Option("--simulations", min=10, max=100_000, help="default: settings")]


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    def forecast_command(
        year: Annotated[int, typer.Option("--year", help="the forecast year")],
        scenario: ScenarioOpt = None,
        seed: SeedOpt = None,
        as_of: AsOfOpt = None,
        simulations: SimOpt = None,
        fmt: Annotated[Format, typer.Option("--format", help="table | csv | json")] = "table",
        history: Annotated[bool, typer.Option("--history", help="month-end history and accuracy")] = False,
        db: Db = None,
    ) -> None:
        """Simulated helårsprognos (p10/p50/p90) per line vs budget, with the run-rate figure beside it."""
        from projections.forecast_model import SimConfig
        from services.bootstrap import bootstrap
        from services.forecasting import forecast_from_store
        from services.settings import Settings

        specs = _scenarios(scenario)
        day = _as_of(as_of)
        url = db or Settings().db
        if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
            raise typer.BadParameter(f"no store at {url.removeprefix('sqlite:///')}", param_hint="--db")
        app_ = bootstrap(db=url)
        s = seed if seed is not None else app_.settings.forecast_seed
        n = simulations if simulations is not None else app_.settings.forecast_simulations
        try:
            if history:
                table = history_report(app_.store, year, s, n)
            else:
                view = forecast_from_store(app_.store, year, as_of=day, seed=s,
                                           config=SimConfig(simulations=n), scenario_specs=specs)
                table = view.report()
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        finally:
            app_.close()
        render(table, fmt, Console(width=250))
