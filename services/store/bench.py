"""A tiny measurement of the store's bulk paths (not a test): appends/s and reads/s.

    .venv/bin/python -m services.store.bench sqlite:////tmp/bench.db --events 100000
    .venv/bin/python -m services.store.bench postgresql://postgres@127.0.0.1:5432/bench

Builds the events first (not timed), then appends them as one batch (one transaction, executemany)
and again in ingest-sized batches into a fresh store, and replays everything with `read_all`.
Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable

from events import Event, decode_dict
from services.store import open_store


def build(count: int, offset: int) -> list[Event]:
    return [
        decode_dict({
            "event_id": str(uuid.UUID(int=offset + n)), "type": "case.actualised",
            "stream_id": f"case:{n // 3}", "municipality": "1880", "occurred_at": "2021-03-01",
            "recorded_at": "2021-03-02T09:00:00+01:00",
            "data": {"person": f"P-{n % 9000}", "channel": "report", "target_group": "children",
                     "sex": "female"},
        })
        for n in range(1, count + 1)
    ]


def timed(label: str, count: int, action: Callable[[], object]) -> None:
    """Wall time, and this process's CPU time (a fairer figure on a machine shared with other work)."""
    start, cpu = time.perf_counter(), time.process_time()
    action()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"{label}: {count} events in {seconds:.2f} s wall = {count / seconds:,.0f} events/s "  # noqa: T201
          f"(client CPU {cpu:.2f} s = {count / cpu:,.0f} events/s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000)
    args = parser.parse_args()
    store = open_store(args.url)
    try:
        base = store.head() * 10 + 10_000_000  # fresh ids on a store that already holds a run
        one = build(args.events, base)
        timed("append, one batch", args.events, lambda: store.append(one))
        many = build(args.events, base + args.events)
        timed(f"append, batches of {args.batch}", args.events,
              lambda: [store.append(many[i:i + args.batch]) for i in range(0, len(many), args.batch)])
        total = store.head()
        timed("read_all (decode)", total, lambda: sum(1 for _ in store.read_all()))
    finally:
        store.close()


if __name__ == "__main__":
    main()
