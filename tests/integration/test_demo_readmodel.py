"""The demo after an upgrade: a read model of an earlier column layout is removed (it is derived data,
refilled from the store by the worker) instead of stopping the worker with `OldLayout`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from services.demo import discard_old_readmodel
from services.readmodel.persist import open_readmodel
from services.readmodel.tables import PROJECTIONS
from services.settings import Settings
from tests.integration.test_readmodel_rebuild import OLD_COLUMNS


def test_an_old_layout_read_model_is_removed_and_a_current_one_kept(tmp_path: Path) -> None:
    settings = Settings(db=f"sqlite:///{tmp_path / 'store.db'}")
    readmodel = tmp_path / "store.readmodel.db"
    assert discard_old_readmodel(settings) is False  # none yet
    with sqlite3.connect(readmodel) as conn:
        for projection in PROJECTIONS:
            conn.execute(f"CREATE TABLE rm_{projection} ({OLD_COLUMNS})")
    assert discard_old_readmodel(settings) is True
    assert not readmodel.exists()
    open_readmodel(f"sqlite:///{readmodel}").dispose()  # this version's layout
    assert discard_old_readmodel(settings) is False
    assert readmodel.exists()
