"""Is the worker consuming? `worker_up` (worker uppe) on /metrics, and one log line per change.

While the broker is away aiokafka keeps reconnecting by itself: the worker process stays alive and
resumes when a broker answers on the bootstrap address again (a new, empty one included: the relay
refills it from the store and the projector skips what it has). Up = some assigned partition had a
fetch answered within `DOWN_AFTER_S` (an idle partition is answered every fetch_max_wait, 200 ms).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Final

from aiokafka import AIOKafkaConsumer

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics

log = logging.getLogger("casestream.worker")
DOWN_AFTER_S: Final = 5.0  # no fetch answered for this long: down (worker_up 0)


class FetchAnswers:
    """The newest fetch answer seen over the consumer's assigned partitions (ms since 1970)."""

    def __init__(self, consumer: AIOKafkaConsumer, now_ms: float) -> None:
        self.consumer, self.newest = consumer, now_ms

    def up(self, now_ms: float) -> bool:
        for tp in self.consumer.assignment():
            stamp = self.consumer.last_poll_timestamp(tp)
            if stamp is not None and stamp > self.newest:
                self.newest = stamp
        return now_ms - self.newest < DOWN_AFTER_S * 1000


async def watch_broker(consumer: AIOKafkaConsumer, metrics: PipelineMetrics | None) -> None:
    """Every 0.5 s: export up/down, and log when it changes (runs until cancelled)."""
    answers, up = FetchAnswers(consumer, time.time() * 1000), True
    while True:
        await asyncio.sleep(0.5)
        now = answers.up(time.time() * 1000)
        if now != up:
            up = now
            if up:
                log.warning("broker answers again: consuming")
            else:
                log.warning("no fetch answered for %.0f s: broker away? reconnecting", DOWN_AFTER_S)
        if metrics is not None:
            metrics.worker_up(up)
