"""The relay (transactional outbox): the event store's events -> the case-events topic, in position order.

It reads the store after its published position, sends each event keyed by stream id with the
position in a header and in the envelope, signed (header `signature`, `services.kafka.signing`: the
worker trusts what the relay published from the store and validates everything else in full), waits
for the broker's acknowledgement of the whole batch and only then records the new published position
(at least once: a crash between the two re-sends the batch, and the consumers skip what they already
applied).

The topic is verified, not trusted: at the start of every session and every second, the relay reads
the fetch high watermarks. If their sum is below what this relay has seen acknowledged, the broker
lost data (the embedded broker keeps it in memory and was restarted), so the relay starts again from
position 0 and refills the topic from the store without operator action. Any Kafka or connection
error ends the session; the next one starts after a backoff (0.2 s doubling to 5 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from aiokafka.errors import KafkaError
from sqlalchemy.engine import Engine

from events import Event
from services.kafka.producer import make_producer, message_of
from services.kafka.signing import SIGNATURE_HEADER, pipeline_key, sign
from services.kafka.topics import ensure_topics, high_watermarks
from services.readmodel.persist import relay_position, set_relay_position
from services.settings import Settings
from services.store.base import EventStore

if TYPE_CHECKING:
    from services.metrics.pipeline import PipelineMetrics

log = logging.getLogger("casestream.relay")
VERIFY_EVERY = 1.0  # s between topic checks


class Relay:
    def __init__(
        self,
        store: EventStore,
        engine: Engine,
        settings: Settings,
        options: dict[str, Any],
        metrics: PipelineMetrics | None = None,
    ) -> None:
        self.store, self.engine, self.settings, self.options = store, engine, settings, options
        self.metrics = metrics
        self.topic = settings.topic_case_events
        self.published = 0
        self.expected = 0  # messages the topic must hold at least (acknowledged since the last check)
        self.refills = 0
        self._checked = 0.0
        self.key: bytes | None = None  # the signing key (services.kafka.signing), read at the first session

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until `stop` is set, surviving broker restarts and errors (logged, retried)."""
        backoff = 0.2
        while not stop.is_set():
            try:
                await self._session(stop)
                backoff = 0.2
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "relay session ended (%s: %s); retrying in %.1f s", type(exc).__name__, exc, backoff
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _session(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, self.options)
        if self.key is None:
            self.key = await asyncio.to_thread(pipeline_key, self.engine, self.settings)
        producer = make_producer(self.options)
        await producer.start()
        try:
            await self._verify(force=True, stored=relay_position(self.engine, self.topic))
            while not stop.is_set():
                await self._verify()
                batch = await asyncio.to_thread(self._read)
                if not batch:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.relay_poll_interval)
                    continue
                await self._publish(producer, batch)
        finally:
            try:
                await asyncio.wait_for(producer.stop(), 5)
            except (TimeoutError, KafkaError, OSError):
                log.warning("producer did not stop cleanly")

    def _read(self) -> list[Event]:
        return list(self.store.read_all(after=self.published, limit=self.settings.relay_batch_size))

    async def _publish(self, producer: Any, batch: list[Event]) -> None:
        futures = []
        assert self.key is not None
        for event in batch:
            key, value, headers = message_of(event)
            headers.append((SIGNATURE_HEADER, sign(self.key, value, event.position)))  # type: ignore[arg-type]
            futures.append(await producer.send(self.topic, value, key=key, headers=headers))
        await asyncio.gather(*futures)
        last = batch[-1].position
        assert last is not None
        self.published = last
        self.expected += len(batch)
        if self.metrics is not None:
            self.metrics.published(len(batch))
        await asyncio.to_thread(set_relay_position, self.engine, self.topic, last)

    async def _verify(self, force: bool = False, stored: int | None = None) -> None:
        """Refill from position 0 when the topic holds fewer messages than were acknowledged.

        `stored` (at a session start) is the persisted published position, adopted only after the check.
        """
        now = time.monotonic()
        if not force and now - self._checked < VERIFY_EVERY:
            return
        self._checked = now
        total = sum((await high_watermarks(self.options, self.topic)).values())
        if stored is not None:
            self.published = stored
        lost = total < self.expected or (total == 0 and self.published > 0)
        if lost:
            log.warning(
                "topic %s holds %d messages, expected >= %d (published to %d): broker lost its data, "
                "refilling from the store",
                self.topic,
                total,
                self.expected,
                self.published,
            )
            self.published = 0
            self.refills += 1
            await asyncio.to_thread(set_relay_position, self.engine, self.topic, 0)
        self.expected = total
