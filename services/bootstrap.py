"""The composition root: the one place that builds the application's parts from settings.

Importing this module does nothing; `bootstrap(settings)` is called from `main()` (or a test).
"""

from __future__ import annotations

from dataclasses import dataclass

from services.settings import Settings
from services.store import EventStore, open_store


@dataclass
class App:
    settings: Settings
    store: EventStore

    def close(self) -> None:
        self.store.close()


def bootstrap(settings: Settings | None = None, *, db: str | None = None) -> App:
    settings = settings or Settings()
    if db is not None:
        settings = settings.model_copy(update={"db": db})
    return App(settings=settings, store=open_store(settings.db))
