"""The audit replay folds exactly what `casestream report` folds: same definitions, same states.

* version 1 of every KPI definition gives the rows `services.reports.report_from_bundle` gives;
* the routed, restricted applier of a replay equals `bundle.fold` for every report;
* canonical rows are exact, and equal reports give equal hashes.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import orjson

from events import Event, decode_dict
from events.timeutil import Period
from projections import bundle
from projections.definitions import CURRENT, DEFINITIONS, NEEDS, Params, UnknownDefinition, build, builder
from services.audit import digest
from services.audit.replay import applier
from services.reports import report_from_bundle
from services.settings import Settings
from tests.unit import builders as b

GOLDEN = Path(__file__).parent / "golden"
PERIOD = Period.year(2021)


def events() -> list[Event]:
    golden = [decode_dict(orjson.loads(p.read_bytes())) for p in sorted(GOLDEN.glob("*.json"))]
    stays = b.flatten(
        [
            b.stay("A1", "2021-01-04", "2021-03-01", price=2100),
            b.stay(
                "A2", "2021-02-01", None, price=32000, price_unit="month", category="family_home_internal"
            ),
            b.stay("A3", "2021-03-01", "2021-06-01", regime="own", unit_id="U1", legal_basis="LVU"),
        ]
    )
    extra = [
        b.unit_capacity_set("U1", "2021-01-01", 3),
        b.placement_repriced("A1", "2021-02-01", 2300),
        b.placement_corrected("A1", "2021-03-10", end="2021-02-20", recorded_at="2021-03-10"),
    ]
    extra.append(b.retracted(extra[1], "2021-03-12"))
    return golden + stays + extra


def routed(names: set[str], evs: list[Event]) -> bundle.State:
    state, apply = bundle.State(), applier(names)
    for e in evs:
        apply(state, e)
    return state


def rows(report: object) -> list[dict[str, object]]:
    return digest.canonical_rows(report.rows)  # type: ignore[attr-defined]


def test_version_1_of_every_definition_equals_the_report_command() -> None:
    full = bundle.fold(events())
    settings = Settings()
    params = Params(investigation_limit_days=settings.investigation_limit_days)
    for name, version in CURRENT.items():
        assert version == 1
        assert rows(build(full, name, 1, PERIOD, params)) == rows(
            report_from_bundle(full, name, PERIOD, settings)
        )


def test_routed_restricted_fold_gives_the_full_folds_reports() -> None:
    evs = events()
    full = bundle.fold(evs)
    for (name, version), needs in NEEDS.items():
        mine = routed(set(needs), evs)
        assert rows(build(mine, name, version, PERIOD, Params())) == rows(
            build(full, name, version, PERIOD, Params())
        )
    everything = routed(
        {"care_costs", "occupancy", "intake", "investigations", "budget", "ekb", "workload"}, evs
    )
    for field in ("occupancy", "intake", "investigations", "budget", "ekb", "workload"):
        assert getattr(everything, field) == getattr(full, field), field
    assert everything.care_costs.placements == full.care_costs.placements
    assert everything.events == full.events


def test_unknown_definition_names_itself_and_the_known_ones() -> None:
    try:
        builder("external-purchases", 9)
    except UnknownDefinition as exc:
        assert "external-purchases" in str(exc) and "version 9" in str(exc) and "budget v1" in str(exc)
    else:
        raise AssertionError("expected UnknownDefinition")
    assert set(NEEDS) == set(DEFINITIONS)


def test_canonical_rows_are_exact_and_hash_stably() -> None:
    a = digest.canonical_rows([{"x": Fraction(1, 3), "y": Fraction(4, 2), "z": None, "t": "Barn"}])
    assert a == [{"x": "1/3", "y": 2, "z": None, "t": "Barn"}]
    b_ = digest.canonical_rows([{"t": "Barn", "z": None, "y": 2, "x": Fraction(2, 6)}])
    assert digest.rows_sha256(a) == digest.rows_sha256(b_)
    assert digest.rows_sha256(a) != digest.rows_sha256(digest.canonical_rows([{"x": Fraction(1, 3)}]))
