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

The topic's partition count is verified too. Each event goes to the partition its key gives over the
configured count (`LayoutPartitioner`), so every copy of an event (a re-send, a refill) lands in the
same partition and the worker's per-partition positions stay exact. A topic of another size (the
embedded broker, restarted empty, auto-creates it with 4 partitions on the first client's metadata
request) is never written to: when it holds fewer messages than were published, it is re-created with
the configured count and refilled; otherwise the relay logs why and waits for an operator.
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
from services.kafka.producer import LayoutPartitioner, make_producer, message_of
from services.kafka.signing import SIGNATURE_HEADER, pipeline_key, sign
from services.kafka.topics import (
    TopicLayoutError,
    ensure_topics,
    high_watermarks,
    layout_message,
    recreate_topic,
)
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
                if isinstance(exc, TopicLayoutError):  # an operator's to mend: said as an error
                    log.error("relay session ended: %s; retrying in %.1f s", exc, backoff)
                else:
                    log.warning(
                        "relay session ended (%s: %s); retrying in %.1f s", type(exc).__name__, exc, backoff
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), backoff)
                backoff = min(backoff * 2, 5.0)

    async def _session(self, stop: asyncio.Event) -> None:
        found = await ensure_topics(self.settings, self.options)
        if found != self.settings.topic_partitions:
            await self._relayout(found)
        if self.key is None:
            self.key = await asyncio.to_thread(pipeline_key, self.engine, self.settings)
        producer = make_producer(
            self.options, partitioner=LayoutPartitioner(self.topic, self.settings.topic_partitions)
        )
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

    async def _relayout(self, found: int) -> None:
        """Re-create a wrongly sized topic that holds fewer messages than were published (lost: the
        refill that follows restores it); refuse one that may be whole."""
        wanted = self.settings.topic_partitions
        total = sum((await high_watermarks(self.options, self.topic)).values()) if found else 0
        published = max(self.expected, await asyncio.to_thread(relay_position, self.engine, self.topic))
        if total and total >= published:
            raise TopicLayoutError(
                layout_message(self.topic, found, wanted)
                + f"; it holds {total} messages, no fewer than were "
                "published, so it is left as it is: delete it and the relay re-creates and refills it"
            )
        log.warning(
            "%s; it holds %d messages of %d published: re-creating it with %d partitions",
            layout_message(self.topic, found, wanted),
            total,
            published,
            wanted,
        )
        await recreate_topic(self.settings, self.options)

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
