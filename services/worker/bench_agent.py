"""For `casestream bench pipeline` only: the same projector step behind a stock Faust agent.

`python -m services.worker.bench_agent BOOTSTRAP GROUP READMODEL_URL [TAKE]` runs a Faust worker whose
agent reads case-events with `stream.take_events(TAKE)` and hands each batch to the shared projector
(decode, skip by position, facts, one transaction) — the design the worker does NOT use, measured for
comparison (../shared/BROKER.md: ~140 µs of Faust stream machinery per message).
"""

from __future__ import annotations

import sys
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import faust

from services.kafka.signing import pipeline_key
from services.readmodel.persist import open_readmodel
from services.settings import Settings
from services.worker.projector import Projector


@dataclass
class _Msg:
    partition: int
    offset: int
    value: bytes | None
    headers: list[tuple[str, bytes]]


def _message(event: Any) -> _Msg:
    m = event.message
    headers = m.headers.items() if isinstance(m.headers, dict) else (m.headers or ())
    return _Msg(m.partition, m.offset, m.value, list(headers))


def build(bootstrap: str, group: str, readmodel: str, take: int = 1000) -> faust.App:
    settings = Settings()
    app = faust.App(
        group,
        broker=f"kafka://{bootstrap}",
        store="memory://",
        web_enabled=False,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        topic_replication_factor=settings.topic_replication_factor,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
    )
    engine = open_readmodel(readmodel)
    projector = Projector(engine, pipeline_key(engine, settings))  # the worker's signed path too
    topic = app.topic(settings.topic_case_events, value_type=bytes, value_serializer="raw")

    @app.agent(topic)
    async def project(stream: Any) -> None:
        async for events in stream.take_events(take, within=0.5):
            batch: dict[int, list[_Msg]] = defaultdict(list)
            for event in events:
                batch[event.message.partition].append(_message(event))
            projector.process(batch)

    return app


if __name__ == "__main__":
    args = sys.argv[1:]
    faust_app = build(args[0], args[1], args[2], int(args[3]) if len(args) > 3 else 1000)
    faust.Worker(faust_app, loglevel="warning").execute_from_commandline()
