"""The composition root: the one place that builds the application's parts from settings.

Importing this module does nothing; `bootstrap(settings)` is called from `main()` (or a test).
Every store the application writes through comes from `open_event_store`, which wraps the back end
in the sealing write path (`services.privacy.sealing`, docs/privacy.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.privacy.keystore import KeyStore
from services.privacy.sealing import SealingStore
from services.settings import Settings
from services.store import EventStore, beside, open_store


@dataclass
class App:
    settings: Settings
    store: EventStore

    def close(self) -> None:
        self.store.close()


def keystore_url(settings: Settings) -> str:
    """`keystore_url`, else beside the store: `x.db` -> `x.keys.db`; PostgreSQL: the store's database."""
    if settings.keystore_url:
        return settings.keystore_url
    return beside(settings.db, "keys") or settings.db  # memory:// (a throwaway key store) or postgresql://


def open_event_store(settings: Settings) -> SealingStore:
    """The store `settings.db` names, behind the sealing write path with its key store."""
    return SealingStore(open_store(settings.db), KeyStore(keystore_url(settings)))


def bootstrap(settings: Settings | None = None, *, db: str | None = None) -> App:
    settings = settings or Settings()
    if db is not None:
        settings = settings.model_copy(update={"db": db})
    return App(settings=settings, store=open_event_store(settings))
