"""A replay of one report folds only that report's projections, and counts the other raw types
without decoding them (`rawfold.RawFold.chosen`): the same figures, hashes, counts and named
undecodable events as the decoded fold of those projections, on every way a page can be read.

Decoding the other types one by one only to count them made a one-report rebuild 3.5-4.4 times as
slow as one of every report (1 M store: 23-30 s against 6.7 s); now they are counted on columns.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from projections.definitions import ALL_PROJECTIONS, CURRENT, needs
from services.audit import columnar_page, digest, fast, pages, parallel, source, vector
from services.audit.replay import Snapshot, rebuild
from services.audit.source import Scope
from services.store import open_store
from tests.integration.test_replay_fast import history, store_of, summary

SUBSETS = sorted({tuple(sorted(needs(name, version))) for name, version in CURRENT.items()}
                 | {tuple(sorted(ALL_PROJECTIONS))})  # and every report: the same edited rows


def _rebuilt(url: str, scope: Scope, projections: tuple[str, ...], *, decoded: bool = False,
             processes: int = 1, memo: Path | None = None) -> Snapshot:
    store = open_store(url)
    try:
        return rebuild(store, scope, projections, digest.EventDigest(),
                       on_item=(lambda item: None) if decoded else None, processes=processes, memo=memo)
    finally:
        store.close()


@pytest.fixture(scope="module")
def edited_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store with rows of every raw type that the columns cannot take as they are."""
    path = tmp_path_factory.mktemp("one_report") / "store.db"
    url = store_of(path, history(12, 0.1))
    with sqlite3.connect(path) as db:
        for etype, edit in [("placement.started", lambda d: d.pop("person")),  # required: decoded, named
                            ("placement.repriced", lambda d: d.update(price_sek=1234.5)),  # öre: Python
                            ("investigation.opened", lambda d: d.update(target_group="elderly")),
                            ("case.actualised", lambda d: d.update(channel=["a list"])),
                            ("placement.ended", lambda d: d.update(placement_id=17))]:
            position, body = db.execute("SELECT position, payload FROM events WHERE type = ? "
                                        "AND position > 500 ORDER BY position LIMIT 1", (etype,)).fetchone()
            value = orjson.loads(body)
            edit(value["data"])
            db.execute("UPDATE events SET payload = ? WHERE position = ?",
                       (orjson.dumps(value, option=orjson.OPT_SORT_KEYS), position))
        db.execute("UPDATE events SET payload = CAST('{\"type\": 1' AS BLOB) WHERE position = 1300")
    return url


@pytest.mark.parametrize("projections", SUBSETS, ids=lambda p: "+".join(p))
def test_one_reports_projections_fold_as_decoded_every_way(edited_store: str, projections: tuple[str, ...],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pages, "PAGE", 400)
    monkeypatch.setattr(parallel, "RANGE", 400)
    head = open_store(edited_store).head()
    for scope in (Scope(None), Scope(None, "1881", upto=head - 30)):
        reference = summary(_rebuilt(edited_store, scope, projections, decoded=True))
        fast = _rebuilt(edited_store, scope, projections)
        assert {"columns", "python"} <= set(fast.paths)
        if scope.municipality is None:  # the edited rows are in the whole store's scope
            assert "rows" in fast.paths and fast.undecodable
        assert summary(fast) == reference
        assert summary(_rebuilt(edited_store, scope, projections, processes=2)) == reference
    with monkeypatch.context() as m:
        m.setattr(vector, "gather", lambda *args: None)  # every page with Python
        assert summary(_rebuilt(edited_store, Scope(None), projections)) == summary(
            _rebuilt(edited_store, Scope(None), projections, decoded=True))


def test_a_one_report_replay_counts_the_other_types_without_decoding_them(
        edited_store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []

    def counting(position: int, *args: Any, **kwargs: Any) -> Any:
        decoded.append(position)
        return source.decoded(position, *args, **kwargs)

    monkeypatch.setattr(pages, "PAGE", 400)
    monkeypatch.setattr(columnar_page, "decoded", counting)  # the decode of the rows the columns leave
    monkeypatch.setattr(fast, "decoded", counting)  # and of the page with a payload that does not parse
    every = _rebuilt(edited_store, Scope(None), tuple(ALL_PROJECTIONS))
    by_all, decoded[:] = list(decoded), []
    one = _rebuilt(edited_store, Scope(None), ("intake", "investigations"))
    assert one.state.events == every.state.events > 5000
    assert decoded == by_all  # the other raw types are counted on columns, as when every report is built
