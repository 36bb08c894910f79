"""The signed-origin fast path (services.kafka.signing, services.readmodel.signed): a message the relay
signed is read, not re-validated, and gives exactly the full path's fact row; anything else — a flipped
byte, a signature for another position, a foreign key, no signature — is validated in full and a poison
one is dead-lettered with its reason."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from events import Event, encode
from services.kafka.broker import EmbeddedBroker, client_options
from services.kafka.producer import message_of
from services.kafka.relay import Relay
from services.kafka.signing import SIGNATURE_HEADER, BadSigningKey, pipeline_key, sign
from services.readmodel.facts import Chunk, decode_batch, decode_stored, utc_micros
from services.readmodel.persist import open_readmodel
from services.readmodel.signed import read_signed
from services.settings import Settings
from services.store import open_store
from services.worker.projector import Projector
from tests.integration.pipeline_kit import Record, history, records_of

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> list[Event]:
    """Events as the store holds them (position, appended_at), several seeds' histories."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('signed')}/store.db")
    for seed in (71, 72, 73):
        store.append(history(seed, 400))
    out = list(store.read_all())
    store.close()
    return out


def _signed(records: dict[int, list[Record]], key: bytes) -> dict[int, list[Record]]:
    """The relay's headers: position, then the signature over position and value."""
    out: dict[int, list[Record]] = {}
    for p, recs in records.items():
        out[p] = [
            Record(r.partition, r.offset, r.value, [*r.headers, (SIGNATURE_HEADER, _sig(key, r))])
            for r in recs
        ]
    return out


def _sig(key: bytes, r: Record) -> bytes:
    assert r.value is not None
    return sign(key, r.value, int(dict(r.headers)["position"]))


def _chunks(records: dict[int, list[Record]], signed: bool) -> list[Chunk]:
    return [
        (
            p,
            [
                (
                    r.value,
                    int(dict(r.headers)["position"]),
                    dict(r.headers).get(SIGNATURE_HEADER) if signed else None,
                )
                for r in recs
            ],
        )
        for p, recs in records.items()
    ]


def test_every_signed_stored_event_is_read_as_the_full_path_reads_it(stored: list[Event]) -> None:
    for event in stored:
        _, value, _ = message_of(event)
        assert event.position is not None
        got = read_signed(KEY, value, event.position, sign(KEY, value, event.position))
        full = decode_stored(value, event.position)
        want = (full.position, full.type, utc_micros(full.recorded_at), utc_micros(full.appended_at))
        assert got == want, event.type


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 10_000), st.integers(1, 7), st.integers(20, 600))
def test_a_signed_batch_gives_the_full_paths_rows(
    stored: list[Event], start: int, parts: int, size: int
) -> None:
    """Property: any window of the store, any partitioning — the same positions, rows and newest time."""
    window = stored[start % len(stored) :][:size]
    records = records_of(window, parts)
    signed = decode_batch(_chunks(_signed(records, KEY), True), KEY)
    full = decode_batch(_chunks(records, False))
    assert signed == full
    assert sum(len(rows) for rows in signed.facts.values()) >= len(window)


def _projector(tmp_path: Path) -> Projector:
    return Projector(open_readmodel(f"sqlite:///{tmp_path}/rm.db"), KEY)


def _poison(event: Event) -> bytes:
    raw = orjson.loads(encode(event))
    raw["event_id"] = "not-a-uuid"
    return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)


def test_a_flipped_byte_fails_verification_and_is_validated_in_full(
    stored: list[Event], tmp_path: Path
) -> None:
    event = stored[5]
    _, value, headers = message_of(event)
    assert event.position is not None
    good = sign(KEY, value, event.position)
    flipped = value.replace(b'"event_id":"', b'"event_id":"X', 1)  # one byte more: signature kept, now wrong
    assert read_signed(KEY, flipped, event.position, good) is None
    out = _projector(tmp_path).process({0: [Record(0, 0, flipped, [*headers, (SIGNATURE_HEADER, good)])]})
    assert out.applied == 0 and len(out.dead) == 1
    assert "event_id" in out.dead[0].reason


def test_a_signature_for_another_position_is_not_trusted(stored: list[Event], tmp_path: Path) -> None:
    """A poison value signed (with the right key) for position p, published at position p + 1."""
    event = stored[7]
    assert event.position is not None
    at = event.position + 1
    poison = orjson.loads(_poison(event))
    poison["position"] = at
    value = orjson.dumps(poison, option=orjson.OPT_SORT_KEYS)
    other = sign(KEY, value, event.position)
    assert read_signed(KEY, value, at, other) is None
    assert read_signed(KEY, value, at, sign(KEY, value, at)) is not None  # the check is the position
    out = _projector(tmp_path).process(
        {0: [Record(0, 0, value, [("position", str(at).encode()), (SIGNATURE_HEADER, other)])]}
    )
    assert out.applied == 0 and [("event_id" in d.reason) for d in out.dead] == [True]


def test_foreign_key_and_unsigned_poison_are_dead_lettered_valid_ones_applied(
    stored: list[Event], tmp_path: Path
) -> None:
    poison = _poison(stored[3])
    position = str(stored[3].position).encode()
    foreign = sign(b"\x01" * 32, poison, stored[3].position or 0)
    ok_value = message_of(stored[4])[1]
    records = [
        Record(0, 0, poison, [("position", position), (SIGNATURE_HEADER, foreign)]),
        Record(0, 1, poison, [("position", position)]),
        Record(0, 2, ok_value, [("position", str(stored[4].position).encode())]),  # unsigned, valid
    ]
    out = _projector(tmp_path).process({0: records})
    assert out.applied == 1
    assert [d.offset for d in out.dead] == [0, 1] and all("event_id" in d.reason for d in out.dead)


def test_an_old_version_goes_through_the_upcasters(stored: list[Event]) -> None:
    """A signed placement.started of version 1 is not the latest version: read_signed declines it."""
    event = next(e for e in stored if e.type == "placement.started")
    raw = orjson.loads(encode(event))
    raw["version"] = 1
    value = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    assert event.position is not None
    assert read_signed(KEY, value, event.position, sign(KEY, value, event.position)) is None
    del raw["version"]
    value = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    assert read_signed(KEY, value, event.position, sign(KEY, value, event.position)) is None


def test_the_key_is_created_once_and_the_setting_overrides_it(tmp_path: Path) -> None:
    engine = open_readmodel(f"sqlite:///{tmp_path}/rm.db")
    first = pipeline_key(engine, Settings())
    assert (
        len(first) == 32 and pipeline_key(open_readmodel(f"sqlite:///{tmp_path}/rm.db"), Settings()) == first
    )
    chosen = Settings(pipeline_signing_key=SecretStr("ab" * 32))
    assert pipeline_key(engine, chosen) == b"\xab" * 32
    with pytest.raises(BadSigningKey, match="CASESTREAM_PIPELINE_SIGNING_KEY"):
        pipeline_key(engine, Settings(pipeline_signing_key=SecretStr("xyz")))
    with pytest.raises(BadSigningKey, match="16 to 64"):
        pipeline_key(engine, Settings(pipeline_signing_key=SecretStr("ab")))


def test_the_relay_signs_what_it_publishes_and_the_worker_reads_it_signed(tmp_path: Path) -> None:
    """The real relay on the embedded broker: every message carries a signature that verifies with the
    read-model database's key, and the projector given that key applies them all, none dead."""
    from tests.integration.test_relay import SETTINGS as RELAY_SETTINGS
    from tests.integration.test_relay import TOPIC, _run_until

    store = open_store("memory://")
    store.append(history(74, 300))
    engine = open_readmodel(f"sqlite:///{tmp_path}/rm.db")
    with EmbeddedBroker(tmp_path / "broker.log") as broker:
        options = client_options(RELAY_SETTINGS, broker.bootstrap)
        asyncio.run(_run_until(Relay(store, engine, RELAY_SETTINGS, options), head=store.head()))
        records = asyncio.run(_consume(options, TOPIC, store.head()))
    key = pipeline_key(engine, RELAY_SETTINGS)
    assert len(records) == store.head()
    for r in records:
        headers = dict(r.headers)
        assert read_signed(key, r.value, int(headers["position"]), headers[SIGNATURE_HEADER]) is not None
    out = Projector(open_readmodel(f"sqlite:///{tmp_path}/rm2.db"), key).process({0: records})
    assert (out.applied, out.dead) == (store.head(), [])


async def _consume(options: dict, topic: str, n: int) -> list[Record]:
    consumer = AIOKafkaConsumer(topic, **options, auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    out: list[Record] = []
    try:
        while len(out) < n:
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                out += [Record(0, len(out) + i, r.value, list(r.headers)) for i, r in enumerate(recs)]
    finally:
        await consumer.stop()
    return sorted(out, key=lambda r: int(dict(r.headers)["position"]))
