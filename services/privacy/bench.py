"""The cost of sealing (not a test): ingest-sized appends with and without the sealing write path.

    .venv/bin/python -m services.privacy.bench /tmp/sealbench --events 50000
    .venv/bin/python -m services.privacy.bench /tmp/sealbench --store-url postgresql://…/bench

Three fresh stores, the same `case.actualised` events (3 per case stream, 9 000 persons), appended
in batches of `--batch` (2 000, as ingest does):

* `raw` — the store back end alone (`open_store`), the figure before sealing existed;
* `sealing, nothing personal` — through `SealingStore` with `birth_year` absent: only the
  stream → person links are recorded (what most simulated events cost);
* `sealing, every event personal` — `birth_year` on every event: a key lookup per batch, new keys
  for new persons, one AES-GCM seal per event.

With `--store-url` the three runs share that (empty) PostgreSQL database one after the other, with
the key store in it too; without it, SQLite files in DIR (store and key store apart).
"""

from __future__ import annotations

import argparse
import time
import uuid
from pathlib import Path

from events import Event, decode_dict
from services.privacy.keystore import KeyStore
from services.privacy.sealing import SealingStore
from services.store import EventStore, open_store


def build(count: int, offset: int, personal: bool) -> list[Event]:
    return [
        decode_dict({
            "event_id": str(uuid.UUID(int=offset + n)), "type": "case.actualised",
            "stream_id": f"case:{offset}:{n // 3}", "municipality": "1880", "occurred_at": "2021-03-01",
            "recorded_at": "2021-03-02T09:00:00+01:00",
            "data": {"person": f"P-{n % 9000}", "channel": "report", "target_group": "children",
                     "sex": "female", **({"birth_year": 2000 + n % 18} if personal else {})},
        })
        for n in range(1, count + 1)
    ]


def run(label: str, store: EventStore, events: list[Event], batch: int) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), batch):
        store.append(events[i:i + batch])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    n = len(events)
    print(f"{label}: {n} events in {seconds:.2f} s wall = {n / seconds:,.0f} events/s "  # noqa: T201
          f"(client CPU {cpu:.2f} s = {n / cpu:,.0f} events/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--store-url", default=None, help="an empty PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    args.directory.mkdir(parents=True, exist_ok=True)
    cases = (("raw", False, False), ("sealing, nothing personal", True, False),
             ("sealing, every event personal", True, True))
    for index, (label, sealing, personal) in enumerate(cases):
        url = args.store_url or f"sqlite:///{args.directory / f'bench-{index}-{time.time_ns()}.db'}"
        keys_url = url if args.store_url else url.removesuffix(".db") + ".keys.db"
        store: EventStore = open_store(url)
        if sealing:
            store = SealingStore(store, KeyStore(keys_url))
        events = build(args.events, (index + 1) * 10_000_000 + store.head(), personal)
        try:
            run(label, store, events, args.batch)
        finally:
            store.close()


if __name__ == "__main__":
    main()
