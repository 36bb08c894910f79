"""The read model on PostgreSQL (production): projector writes, replays, rebuild and the source agree
with a fold of the store, exactly as on SQLite."""

from __future__ import annotations

from services.readmodel.persist import open_readmodel, readmodel_url
from services.readmodel.rebuild import rebuild
from services.readmodel.source import bundle_from_readmodel
from services.reports import bundle_from_store
from services.settings import Settings
from services.store import open_store
from services.worker.projector import Projector
from tests.integration.pipeline_kit import assert_same_bundle, history, records_of


def test_readmodel_on_postgresql_equals_the_store_fold(pg_fresh_url: str) -> None:
    store = open_store(pg_fresh_url)
    store.append(history(61, 900))
    url = readmodel_url(Settings(db=pg_fresh_url))
    assert url == pg_fresh_url  # the read model lives in the store's database
    engine = open_readmodel(url)
    projector = Projector(engine)
    parts = records_of(store.read_all())
    projector.process({p: recs[: len(recs) // 3] for p, recs in parts.items()})
    projector.process(parts)
    assert projector.process(parts).applied == 0
    assert rebuild(store, engine, "intake", page_size=250) == 1
    store.append(history(62, 300))
    Projector(engine).process(records_of(store.read_all()))
    assert_same_bundle(bundle_from_readmodel(engine), bundle_from_store(store))
    engine.dispose()
    store.close()
