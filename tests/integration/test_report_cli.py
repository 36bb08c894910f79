"""`casestream ingest` then `casestream report` through the real CLI and a real SQLite store.

A small, hand-checked history of January 2021 (31 days) is written as JSONL, ingested, and every
report is asked in every format. The figures below are worked out by hand from the events:

* externa köp, Institutionsvård Barn: two LVU placements at 4 000 kr/dygn, one from 1 Jan (31
  nights) and one from 17 Jan (15 nights): 46 vårddygn, 46/31 = 1.48 personer snitt per dygn,
  184 000 kr, 4 000 kr per dygn; run-rate prognos 46/31 × 4 000 × 365.
* Familjehemsvård externt Unga: one placement from 10 Jan (22 nights) registered on 20 Feb, so as
  known at 1 Feb the line has no persons and as known now 22/31.
* Beläggningsgrad HVB Almen (10 platser): stays of 31 and 10 nights = 41 of 310 place-days, 13.2 %.
* LVU 2 (1 flicka, 1 pojke), LVM 1 (1 man): 3 unique individuals.
* Aktualiseringar in January: 3 (2 anmälan, 1 ansökan), 2 of them girls; one more in February.
* Utredningar: 2 opened in January, 1 closed after 25 days.
* Budget Institutionsvård Barn 1 460 000 kr linear: January budget 121 666.67, outcome 125 000.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from events.codec import encode
from events.envelope import Event
from events.timeutil import Period
from services.cli import app
from services.reports import REPORT_NAMES
from tests.unit.builders import placement_ended, placement_started, unit_capacity_set
from tests.unit.event_builders_economy import (
    budget_set,
    case_actualised,
    investigation_closed,
    investigation_opened,
    ledger_posted,
)

runner = CliRunner()
PERIOD = ["--from", "2021-01-01", "--to", "2021-01-31"]
ROW_TYPES = {"detail", "subtotal", "total", "adjustment"}


def history() -> list[Event]:
    ext = {"regime": "purchased"}
    return [
        unit_capacity_set("hvb-a", "2020-12-01", 10, name="HVB Almen", kind="long_stay"),
        placement_started("own-1", "2021-01-01", regime="own", unit_id="hvb-a", target_group="youth"),
        placement_started("own-2", "2021-01-11", regime="own", unit_id="hvb-a", target_group="youth"),
        placement_ended("own-2", "2021-01-21"),
        placement_started("ext-a", "2021-01-01", legal_basis="LVU", sex="female", price=4000, **ext),
        placement_started("ext-b", "2021-01-17", legal_basis="LVU", sex="male", price=4000, **ext),
        placement_started("ext-c", "2021-01-10", category="family_home_external", target_group="youth",
                          price=1500, recorded_at="2021-02-20T10:00:00+01:00", **ext),
        placement_started("ext-d", "2021-01-05", category="institution_substance", target_group="adults",
                          legal_basis="LVM", sex="male", price=3000, **ext),
        placement_started("ext-e", "2021-01-01", category="family_home_internal", price=30000,
                          price_unit="month", **ext),
        case_actualised("case-1", "2021-01-05", sex="female"),
        case_actualised("case-2", "2021-01-12", channel="application", target_group="youth", sex="male"),
        case_actualised("case-3", "2021-01-20", sex="female"),
        case_actualised("case-4", "2021-02-03", sex="male"),
        investigation_opened("case-1", "inv-1", "2021-01-04"),
        investigation_closed("case-1", "inv-1", "2021-01-29"),
        investigation_opened("case-2", "inv-2", "2021-01-15", target_group="youth"),
        budget_set(2021, 1_460_000, category="institution", target_group="children", persons=1, price=4000),
        ledger_posted(2021, 1, 125_000, category="institution", target_group="children"),
    ]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("report_cli")
    source = folder / "history.jsonl"
    source.write_bytes(b"".join(encode(e, with_store_fields=False) + b"\n" for e in history()))
    url = f"sqlite:///{folder / 'store.db'}"
    result = runner.invoke(app, ["ingest", str(source), "--db", url])
    assert result.exit_code == 0, result.output
    assert "accepted 18  duplicate 0  rejected 0" in result.output
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CASESTREAM_VAR_DIR", str(folder / "var"))
        yield url


def report(db: str, name: str, fmt: str, *extra: str) -> str:
    result = runner.invoke(app, ["report", name, *PERIOD, "--format", fmt, "--db", db, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


def rows(db: str, name: str, *extra: str) -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = json.loads(report(db, name, "json", *extra))
    return loaded


def line(table: list[dict[str, Any]], category: str, target_group: str) -> dict[str, Any]:
    return next(r for r in table if r["category"] == category and r["target_group"] == target_group)


@pytest.mark.parametrize("name", REPORT_NAMES)
def test_every_report_in_every_format(db: str, name: str) -> None:
    table = rows(db, name)
    assert table and {r["row_type"] for r in table} <= ROW_TYPES
    keys = list(table[0])
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", k) for k in keys)
    assert all(list(r) == keys for r in table), "every row carries every column key"
    parsed = list(csv.reader(io.StringIO(report(db, name, "csv"))))
    assert parsed[0] == keys and len(parsed) == len(table) + 1
    printed = report(db, name, "table")
    assert "2021-01-01..2021-01-31" in printed


def test_external_purchases_persons_cost_and_rounding(db: str) -> None:
    table = rows(db, "external-purchases")
    inst = line(table, "institution", "children")
    assert inst["persons_per_day"] == pytest.approx(46 / 31)
    assert inst["period_cost_sek"] == 184_000 and inst["cost_per_day"] == 4000
    assert inst["forecast_total_sek"] == pytest.approx(float(Fraction(46, 31) * 4000 * 365))
    assert line(table, "family_home_internal", "children")["period_cost_sek"] == 30_000
    assert line(table, "institution_substance", "adults")["persons_per_day"] == pytest.approx(27 / 31)
    children = next(r for r in table if r["row_type"] == "subtotal" and r["group"] == "children")
    assert children["persons_per_day"] == pytest.approx(46 / 31 + 1)  # 31 nights in the family home
    by_key = {r["category"] + "/" + r["target_group"]: r
              for r in csv.DictReader(io.StringIO(report(db, "external-purchases", "csv"))) if r["category"]}
    assert by_key["institution/children"]["persons_per_day"] == "1"  # 1.48, half up to whole persons
    assert by_key["institution/children"]["period_cost_sek"] == "0.2"  # 184 000 kr in mnkr


def test_known_at_before_a_late_registration_gives_the_old_figure(db: str) -> None:
    now = line(rows(db, "external-purchases"), "family_home_external", "youth")
    then = line(rows(db, "external-purchases", "--known-at", "2021-02-01"), "family_home_external", "youth")
    assert now["persons_per_day"] == pytest.approx(22 / 31) and now["period_cost_sek"] == 33_000
    assert then["persons_per_day"] == 0 and then["period_cost_sek"] == 0
    assert line(rows(db, "external-purchases", "--known-at", "2021-02-20T10:00:00+01:00"),
                "family_home_external", "youth")["period_cost_sek"] == 33_000


def test_occupancy_percent_of_place_days(db: str) -> None:
    unit = next(r for r in rows(db, "occupancy") if r["unit_id"] == "hvb-a")
    assert unit["places"] == 10
    assert unit["pct_2021_01"] == pytest.approx(41 / 310 * 100)  # percent, not a share
    printed = next(r for r in csv.DictReader(io.StringIO(report(db, "occupancy", "csv")))
                   if r["unit_id"] == "hvb-a")
    assert printed["pct_2021_01"] == "13"


def test_lvu_lvm_unique_individuals(db: str) -> None:
    got = {(r["legal_basis"], r["sex"]): r["individuals"] for r in rows(db, "lvu-lvm")}
    assert got == {("LVU", "all"): 2, ("LVU", "female"): 1, ("LVU", "male"): 1, ("LVM", "all"): 1,
                   ("LVM", "female"): 0, ("LVM", "male"): 1, (None, "all"): 3}


def test_intake_and_investigations(db: str) -> None:
    jan = next(r for r in rows(db, "intake") if r["month"] == "2021-01")
    assert (jan["total"], jan["channel_report"], jan["channel_application"]) == (3, 2, 1)
    assert jan["female_pct"] == pytest.approx(200 / 3)
    total = next(r for r in rows(db, "investigations") if r["row_type"] == "total")
    figures = (total["opened_total"], total["closed_total"], total["mean_days"], total["overdue"])
    assert figures == (2, 1, 25, 0)


def test_budget_and_forecast(db: str) -> None:
    detail = next(r for r in rows(db, "budget") if r["row_type"] == "detail")
    assert detail["budget_sek"] == 1_460_000
    assert detail["period_budget_sek"] == pytest.approx(1_460_000 / 12)
    assert detail["outcome_sek"] == 125_000
    assert detail["deviation_sek"] == pytest.approx(1_460_000 / 12 - 125_000)  # budget − utfall
    inst = line(rows(db, "forecast"), "institution", "children")
    assert inst["budget_sek"] == 1_460_000
    assert inst["forecast_deviation_sek"] == pytest.approx(1_460_000 - float(Fraction(46, 31) * 4000 * 365))


def test_bad_requests_get_clear_errors(db: str, tmp_path: Path) -> None:
    cases = [
        (["report", "beds", *PERIOD, "--db", db], "unknown report 'beds'"),
        (["report", "intake", "--from", "2021-02-01", "--to", "2021-01-01", "--db", db], "before it starts"),
        (["report", "intake", *PERIOD, "--known-at", "igår", "--db", db], "--known-at 'igår'"),
        (["report", "intake", *PERIOD, "--format", "xml", "--db", db], "xml"),
        (["report", "intake", *PERIOD, "--db", f"sqlite:///{tmp_path / 'none.db'}"], "no event store"),
        (["report", "intake", *PERIOD, "--db", "mysql://x"], "unknown store URL"),
    ]
    for args, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert message in " ".join(result.output.replace("│", " ").split()), (args, result.output)
    assert not (tmp_path / "none.db").exists()


def test_every_printed_column_is_documented(db: str) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "reports.md").read_text(encoding="utf-8")
    sections = {s.split("\n", 1)[0].strip(): s for s in doc.split("\n## ")[1:]}
    for name in REPORT_NAMES:
        assert name in sections, f"docs/reports.md has no section '## {name}'"
        for key in rows(db, name)[0]:
            generic = re.sub(r"^pct_\d{4}_\d{2}$", "pct_YYYY_MM", key)
            assert f"| `{generic}` |" in sections[name], f"docs/reports.md, {name}: {key} not described"


def test_report_service_names_and_unknown_name() -> None:
    from projections.definitions import CURRENT
    from services.reports import UnknownReport, build_report
    from services.settings import Settings
    from services.store import open_store

    assert tuple(CURRENT) == REPORT_NAMES
    store = open_store("memory://")
    try:
        with pytest.raises(UnknownReport, match="unknown report 'beds'; choose one of occupancy, "):
            build_report(store, "beds", Period(date(2021, 1, 1), date(2021, 1, 31)), None, Settings())
        january = Period(date(2021, 1, 1), date(2021, 1, 31))
        empty = build_report(store, "intake", january, None, Settings())
        assert [r["total"] for r in empty.rows] == [0, 0]
    finally:
        store.close()


def access_events(db: str) -> list[Any]:
    from events.access import AccessViewed
    from services.store import open_store

    store = open_store(db)
    try:
        return [e for e in store.read_all() if isinstance(e.data, AccessViewed)]
    finally:
        store.close()


def test_each_raw_report_run_is_logged(db: str) -> None:
    before = len(access_events(db))
    report(db, "lvu-lvm", "csv", "--known-at", "2021-02-01")
    events = access_events(db)
    assert len(events) == before + 1
    last = events[-1].data
    assert (last.view, last.level, last.channel, last.role) == ("report:lvu-lvm", "raw", "cli", "controller")
    assert (last.period_start, last.period_end, last.known_at) == (date(2021, 1, 1), date(2021, 1, 31),
                                                                   date(2021, 2, 1))
    assert last.subject.startswith("local:") and events[-1].stream_id.startswith("access:")


def test_log_review_counts_the_report_runs(db: str) -> None:
    report(db, "intake", "csv")
    month = access_events(db)[-1].stream_id.removeprefix("access:")
    result = runner.invoke(app, ["report", "logguppfoljning", "--month", month, "--format", "json",
                                 "--db", db])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    runs = sum(1 for e in access_events(db)[:-1] if e.stream_id == f"access:{month}")  # the review is last
    total = next(r for r in table if r["row_type"] == "total")
    assert total["views"] == total["raw_views"] == runs >= 1
    assert "råa uttag" in next(r for r in table if r["row_type"] == "detail")["flags"]
    bad = runner.invoke(app, ["report", "logguppfoljning", "--month", "2021-13", "--db", db])
    assert bad.exit_code == 2 and "'2021-13' is not a month" in bad.output
    missing = runner.invoke(app, ["report", "intake", "--db", db])
    assert missing.exit_code == 2 and "needs --from and --to" in missing.output


def test_display_rounding_is_half_up_without_negative_zero() -> None:
    from services.render import round_half_up

    assert [str(round_half_up(Fraction(n, 2))) for n in (1, 3, 5, -1, -3)] == ["1", "2", "3", "-1", "-2"]
    assert str(round_half_up(Fraction(-1, 30), 1)) == "0.0"
    assert str(round_half_up(Fraction(979, 10))) == "98"
