"""Builders of valid economy, intake, investigation, EKB and workload events (via `events.codec.decode_dict`),
and the Örebro 2021 externa-köp fixture.

Streams: a case's events on the case (`stream_id` = case id), budget facts on `budget:<year>`, ledger
postings on `ledger:<year>`, forecast overrides on `forecast:<year>`, EKB statuses on `ekb:<person>`,
workload measurements on `workload:<area>`. A retraction goes on the stream of the event it withdraws
(`tests.unit.builders.retracted`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from events.envelope import Event
from events.timeutil import Month, Period
from projections.lines import LineFigures, LineKey
from tests.unit.builders import Day, Instant, envelope

Money = int | str | Decimal | Fraction


def money(value: Money) -> int | str:
    """A wire amount: integers stay integers, anything else a decimal string with at most 6 decimals."""
    if isinstance(value, int):
        return value
    if isinstance(value, Fraction):
        if value.denominator == 1:
            return value.numerator
        value = (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal("0.000001"))
    return str(value)


def _opt(data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    data.update({k: v for k, v in fields.items() if v is not None})
    return data


def case_actualised(
    case_id: str,
    day: Day,
    *,
    channel: str = "report",
    target_group: str = "children",
    sex: str = "unknown",
    person: str | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"person": person or f"P-{case_id}", "channel": channel, "target_group": target_group, "sex": sex}
    return envelope("case.actualised", case_id, day, data, recorded_at=recorded_at, event_id=event_id)


def investigation_opened(
    case_id: str,
    investigation_id: str,
    day: Day,
    *,
    target_group: str = "children",
    person: str | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {
        "investigation_id": investigation_id,
        "person": person or f"P-{case_id}",
        "target_group": target_group,
    }
    return envelope("investigation.opened", case_id, day, data, recorded_at=recorded_at, event_id=event_id)


def investigation_closed(
    case_id: str,
    investigation_id: str,
    day: Day,
    *,
    outcome: str = "intervention",
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"investigation_id": investigation_id, "outcome": outcome}
    return envelope("investigation.closed", case_id, day, data, recorded_at=recorded_at, event_id=event_id)


def budget_line(
    activity: str = "external_care",
    category: str | None = None,
    target_group: str | None = None,
    account_group: str | None = None,
) -> dict[str, Any]:
    return _opt(
        {"activity": activity}, category=category, target_group=target_group, account_group=account_group
    )


def budget_set(
    year: int,
    amount: Money,
    *,
    activity: str = "external_care",
    category: str | None = None,
    target_group: str | None = None,
    account_group: str | None = None,
    profile: str | list[str] = "linear",
    persons: Money | None = None,
    price: Money | None = None,
    day: Day | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = _opt(
        {
            "year": year,
            "line": budget_line(activity, category, target_group, account_group),
            "amount_sek": money(amount),
            "profile": profile,
        },
        persons_per_day=None if persons is None else money(persons),
        price_sek=None if price is None else money(price),
    )
    return envelope(
        "budget.set",
        f"budget:{year}",
        day or date(year - 1, 11, 23),
        data,
        recorded_at=recorded_at,
        event_id=event_id,
    )


def budget_revised(
    year: int,
    change: Money,
    reason: str,
    *,
    activity: str = "external_care",
    category: str | None = None,
    target_group: str | None = None,
    account_group: str | None = None,
    profile: list[str] | None = None,
    day: Day | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = _opt(
        {
            "year": year,
            "line": budget_line(activity, category, target_group, account_group),
            "change_sek": money(change),
            "reason": reason,
        },
        profile=profile,
    )
    return envelope(
        "budget.revised",
        f"budget:{year}",
        day or date(year - 1, 12, 15),
        data,
        recorded_at=recorded_at,
        event_id=event_id,
    )


def ledger_posted(
    year: int,
    month: int,
    amount: Money,
    *,
    activity: str = "external_care",
    category: str | None = None,
    target_group: str | None = None,
    account_group: str | None = None,
    day: Day | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {
        "year": year,
        "month": month,
        "line": budget_line(activity, category, target_group, account_group),
        "amount_sek": money(amount),
    }
    return envelope(
        "ledger.posted",
        f"ledger:{year}",
        day or Month(year, month).last,
        data,
        recorded_at=recorded_at,
        event_id=event_id,
    )


def spread_postings(year: int, months: range, total: Fraction | int, **line: Any) -> list[Event]:
    """Equal monthly postings (whole SEK, the remainder in the last month) that sum to `total`."""
    each = Fraction(total) / len(months)
    amounts = [int(each) for _ in months]
    amounts[-1] += int(Fraction(total) - sum(amounts))
    return [ledger_posted(year, m, a, **line) for m, a in zip(months, amounts, strict=True)]


def forecast_adjusted(
    year: int,
    reason: str,
    *,
    category: str | None = None,
    target_group: str | None = None,
    account_group: str | None = None,
    persons: Money | None = None,
    price: Money | None = None,
    total: Money | None = None,
    day: Day | None = None,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = _opt(
        {"year": year, "reason": reason},
        category=category,
        target_group=target_group,
        account_group=account_group,
        persons_per_day=None if persons is None else money(persons),
        price_sek=None if price is None else money(price),
        total_sek=None if total is None else money(total),
    )
    return envelope(
        "forecast.adjusted",
        f"forecast:{year}",
        day or date(year, 9, 1),
        data,
        recorded_at=recorded_at,
        event_id=event_id,
    )


def ekb_status(
    person: str,
    day: Day,
    status: str,
    *,
    sex: str = "unknown",
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"person": person, "status": status, "sex": sex}
    return envelope(
        "ekb.status_changed", f"ekb:{person}", day, data, recorded_at=recorded_at, event_id=event_id
    )


def workload_measured(
    area: str,
    day: Day,
    week: int,
    value: Money,
    *,
    recorded_at: Instant | None = None,
    event_id: uuid.UUID | str | None = None,
) -> Event:
    data = {"area": area, "week": week, "value_percent": money(value)}
    return envelope(
        "workload.measured", f"workload:{area}", day, data, recorded_at=recorded_at, event_id=event_id
    )


# --- Örebro 2021 externa köp (000, 5.3.4, lines 2320-2419;
# shared/domain/tables/000_external_purchases_2021.csv)

JAN_AUG_2021 = Period(date(2021, 1, 1), date(2021, 8, 31))
MNKR = 1_000_000

# Copied from 000_external_purchases_2021.csv (columns: block, category, target group, price unit,
# budget persons, Jan-Aug persons (displayed; bracketed individuals for cost-only rows), budget price
# (column 6), Jan-Aug price, total budget mnkr, period deviation mnkr, forecast persons, forecast
# price, forecast deviation mnkr, forecast total mnkr). '' = not printed.
EXTERNAL_2021_CSV = """\
Barn,institution,children,day,16,18,5300,5356,31.0,-2.4,18,5356,-3.6,34.6
Barn,family_home_internal,children,month,85,76,29000,32147,29.6,0.1,76,30000,2.2,27.4
Barn,family_home_external,children,day,18,33,2250,2235,14.8,-8.0,33,2235,-12.1,26.8
Barn,contact_person,children,,,,,,3.7,0.3,,,0.5,3.2
Barn,outpatient_day_priced,children,day,8,5,2150,2321,6.0,1.4,5,2321,2.1,3.9
Barn,outpatient_other,children,,,36,,,3.5,-1.1,37,,-1.6,5.1
Barn,Summa,,,127,131,,,88.5,-9.6,131,,-12.5,101.0
Unga,institution,youth,day,32,39,4850,4803,57.3,-7.3,38,4803,-10.0,67.3
Unga,family_home_internal,youth,month,56,49,19000,17087,13.3,2.3,49,20000,1.6,11.6
Unga,family_home_external,youth,day,25,28,2400,2348,21.9,-1.6,28,2348,-2.4,24.3
Unga,contact_person,youth,,,,,,1.3,0.3,,,0.5,0.8
Unga,outpatient_day_priced,youth,day,11,18,2240,1656,6.0,-3.1,18,1656,-4.6,10.6
Unga,outpatient_other,youth,,,11,,,6.5,3.8,11,,5.8,0.8
Unga,Summa,,,124,134,,,106.3,-5.6,133,,-9.3,115.5
Jourhem,emergency_home_contracted,children,month,11,9,34920,49616,4.6,-0.4,10,34000,0.7,3.9
Vuxna,institution_substance,adults,day,27,40,3090,2699,30.5,-6.1,40,2699,-9.1,39.6
Vuxna,outpatient_substance,adults,day,16,15,1590,1536,9.3,0.4,15,1536,0.7,8.6
Vuxna,housing_substance,adults,day,28,27,1450,1436,14.8,0.5,27,1436,0.7,14.1
Vuxna,family_home_substance,adults,day,7,8,2150,2114,5.5,-0.3,8,2114,-0.5,6.0
Vuxna,care_non_substance,adults,day,27,29,2465,2275,29.8,4.0,29,2275,6.0,23.8
Vuxna,Summa,,,105,119,,,89.8,-1.5,119,,-2.3,92.2
Alla,vat_refund,,,,,,,-14.5,0.2,,,2.8,-17.3
Alla,Totalt,,,367,393,2721,2616,274.8,-16.9,393,2616,-20.6,295.3
"""
FIELDS = (
    "block",
    "category",
    "target_group",
    "unit",
    "budget_persons",
    "persons",
    "budget_price",
    "price",
    "budget",
    "deviation",
    "forecast_persons",
    "forecast_price",
    "forecast_deviation",
    "forecast_total",
)

# Rows whose forecast departs from the run rate for a reason the report names (BRIEF §3.4).
OVERRIDE_REASONS = {
    ("institution", "youth"): "Kortare vårdtider väntas (hemtagning)",
    ("emergency_home_contracted", "children"): "Ett kontrakterat jourhem till under hösten",
}
VAT_REASON = "Återsökt moms i takt med perioden samt extra ersättning från Migrationsverket 2,5 mnkr"


def published_rows() -> list[dict[str, Fraction | str | None]]:
    """The copied table as dicts: numbers as exact Fractions (mnkr cells as printed), '' as None."""
    out = []
    for line in EXTERNAL_2021_CSV.strip().splitlines():
        cells = dict(zip(FIELDS, line.split(","), strict=True))
        row: dict[str, Fraction | str | None] = {}
        for k, v in cells.items():
            row[k] = v if k in FIELDS[:4] else (Fraction(v) if v else None)
        out.append(row)
    return out


@dataclass(frozen=True)
class ExternalFixture:
    figures: dict[LineKey, LineFigures]
    events: list[Event]
    published: list[dict[str, Fraction | str | None]]

    def row(self, category: str, target_group: str = "") -> dict[str, Fraction | str | None]:
        return next(
            r
            for r in self.published
            if r["category"] == category and (not target_group or r["target_group"] == target_group)
        )


HALF_CELL = Fraction(5, 100)  # a printed mnkr cell lies within ±0.05 of the unrounded value


def _factors(row: dict[str, Any]) -> tuple[Fraction, Fraction]:
    """mnkr per unit of x in the period and in the forecast; x = persons per day, or the period cost
    in mnkr for cost-only rows (forecast at their outcome run rate)."""
    days = JAN_AUG_2021.days
    if row["unit"] == "day":
        return row["price"] * days / MNKR, row["forecast_price"] * 365 / MNKR
    if row["unit"] == "month":
        return row["price"] * 8 / MNKR, row["forecast_price"] * 12 / MNKR
    return Fraction(1), Fraction(365, days)


def _interval(row: dict[str, Any], budget_mnkr: Fraction) -> tuple[Fraction, Fraction]:
    """The x consistent with both printed cells (period deviation and forecast total), each ±0.05.
    Rows with a named forecast override are pinned by the period cell only (its midpoint)."""
    per, fper = _factors(row)
    cost = budget_mnkr * Fraction(2, 3) - row["deviation"]
    lo, hi = (cost - HALF_CELL) / per, (cost + HALF_CELL) / per
    if (row["category"], row["target_group"]) in OVERRIDE_REASONS:
        return (lo + hi) / 2, (lo + hi) / 2
    lo = max(lo, (row["forecast_total"] - HALF_CELL) / fper)
    hi = min(hi, (row["forecast_total"] + HALF_CELL) / fper)
    assert lo <= hi, f"no unrounded value fits both printed cells of {row['category']}/{row['target_group']}"
    return lo, hi


def _unround_block(
    details: list[dict[str, Any]], subtotal: dict[str, Any] | None
) -> list[tuple[Fraction, Fraction]]:
    """(budget mnkr, x) per detail row: values within each printed cell's rounding whose block sums
    equal the printed "Summa" (budget: the difference spread evenly; forecast: one common position t
    inside every row's interval, solved in closed form because the block forecast is linear in t)."""
    budgets = [r["budget"] for r in details]
    if subtotal is not None:
        shift = (subtotal["budget"] - sum(budgets)) / len(details)
        assert abs(shift) <= HALF_CELL
        budgets = [b + shift for b in budgets]
    spans = [_interval(r, b) for r, b in zip(details, budgets, strict=True)]
    fixed = sum(
        (r["forecast_total"] for r in details if (r["category"], r["target_group"]) in OVERRIDE_REASONS),
        Fraction(0),
    )
    free = [
        (lo, hi, _factors(r)[1])
        for r, (lo, hi) in zip(details, spans, strict=True)
        if (r["category"], r["target_group"]) not in OVERRIDE_REASONS
    ]
    t = Fraction(1, 2)
    width = sum(((hi - lo) * f for lo, hi, f in free), Fraction(0))
    if subtotal is not None and width:
        base = fixed + sum((lo * f for lo, _, f in free), Fraction(0))
        t = min(Fraction(1), max(Fraction(0), (subtotal["forecast_total"] - base) / width))
    return [(b, lo + t * (hi - lo)) for b, (lo, hi) in zip(budgets, spans, strict=True)]


def _line_figures(row: dict[str, Any], x: Fraction) -> LineFigures:
    key = LineKey(row["category"], row["target_group"])
    days = JAN_AUG_2021.days
    if row["unit"] is None or row["unit"] == "":
        persons = int(row["persons"] or 0)
        return LineFigures(key, JAN_AUG_2021, 0, Fraction(round(x * MNKR)), persons)
    care_days = round(x * days)
    if row["unit"] == "day":
        cost = care_days * row["price"]
        latest = Decimal(int(row["forecast_price"]))
    else:
        cost = Fraction(care_days, days) * 8 * row["price"]
        latest = Decimal(int(row["forecast_price"]))
    return LineFigures(key, JAN_AUG_2021, care_days, cost, -(-care_days // days), latest, row["unit"])


def orebro_external_2021() -> ExternalFixture:
    """LineFigures for Jan-Aug 2021 (243 days) plus budget, ledger and forecast events that reproduce
    Örebro's externa-köp table within the rounding of its printed cells."""
    published = published_rows()
    figures: dict[LineKey, LineFigures] = {}
    events: list[Event] = []
    for block in ("Barn", "Unga", "Jourhem", "Vuxna"):
        rows: list[dict[str, Any]] = [r for r in published if r["block"] == block]
        details = [r for r in rows if r["category"] != "Summa"]
        subtotal = next((r for r in rows if r["category"] == "Summa"), None)
        values = _unround_block(details, subtotal)
        sums = [round(sum(b for b, _ in values[: i + 1]) * MNKR) for i in range(len(values))]
        whole_sek = [s - p for s, p in zip(sums, [0, *sums[:-1]], strict=True)]  # SEK that keep the block sum
        for row, (_, x), amount in zip(details, values, whole_sek, strict=True):
            fig = _line_figures(row, x)
            figures[fig.key] = fig
            events.append(
                budget_set(
                    2021,
                    amount,
                    category=row["category"],
                    target_group=row["target_group"],
                    persons=row["budget_persons"],
                    price=row["budget_price"],
                )
            )
            reason = OVERRIDE_REASONS.get((row["category"], row["target_group"]))
            if reason is not None:
                _, fper = _factors(row)
                persons = (
                    Decimal(row["forecast_total"].numerator)
                    / Decimal(row["forecast_total"].denominator)
                    / (Decimal(fper.numerator) / Decimal(fper.denominator))
                ).quantize(Decimal("0.01"))
                events.append(
                    forecast_adjusted(
                        2021,
                        reason,
                        category=row["category"],
                        target_group=row["target_group"],
                        persons=persons,
                    )
                )
    vat: dict[str, Any] = next(r for r in published if r["category"] == "vat_refund")
    events.append(budget_set(2021, round(vat["budget"] * MNKR), account_group="vat_refund"))
    outcome = (vat["budget"] * Fraction(2, 3) - vat["deviation"]) * MNKR
    events.extend(spread_postings(2021, range(1, 9), outcome, account_group="vat_refund"))
    events.append(
        forecast_adjusted(
            2021, VAT_REASON, account_group="vat_refund", total=round(vat["forecast_total"] * MNKR)
        )
    )
    return ExternalFixture(figures, events, published)
