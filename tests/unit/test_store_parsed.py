"""The store's parsed lines (`services.store.parsed`): a line read back is exactly the payload's parse.

For every batch of payloads: where `encode` gives a row a line, `decode` of the lines of those rows
gives the columns of `SCHEMA` that `parse` of their payloads gives (the table the columnar replay
folds), and `OTHER` true exactly on the rows where the parse found a key outside the schema; a row it
gives none is one whose payload Arrow cannot read into the schema (another type, not JSON, a line break).
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from events.codec import decode_dict
from events.codec import encode as encode_event
from services.audit.bench_history import synthetic
from services.store import parsed
from tests.integration.test_replay_fast import history


def _payload(value: dict[str, Any]) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _round_trip(payloads: list[bytes]) -> list[bytes | None]:
    """The lines; asserts that the rows with one read back as their payloads' parse, and each alone too."""
    lines = parsed.encode(payloads)
    assert len(lines) == len(payloads)
    kept = [i for i, line in enumerate(lines) if line is not None]
    if kept:
        table = parsed.decode(b"".join(lines[i] + b"\n" for i in kept), len(kept))  # type: ignore[operator]
        want = parsed.parse(b"".join(payloads[i] + b"\n" for i in kept), len(kept))
        assert table is not None and want is not None
        names = parsed.SCHEMA.names
        assert table.select(names).schema == parsed.SCHEMA
        assert table.select(names).equals(_schema_part(want))
        other = [any(want.column(c)[i].is_valid for c in want.column_names if c not in names)
                 or _data_other(want, i) for i in range(len(kept))]
        if any(other):
            assert table.column(parsed.OTHER).is_valid().to_pylist() == other
        else:
            assert table.schema == parsed.SCHEMA
    for i in range(0, len(lines), max(1, len(lines) // 150)):  # a row's line does not depend on its batch
        assert parsed.encode([payloads[i]]) == [lines[i]]
    return lines


def _schema_part(table: Any) -> Any:
    """A parse's columns of SCHEMA (`data` without the keys inferred in it)."""
    data = table.column("data").combine_chunks()
    inner = pa.StructArray.from_arrays([data.field(name) for name in parsed.DATA.names],
                                       fields=list(parsed.DATA), mask=pc.invert(data.is_valid()))
    rest = [table.column(name).combine_chunks() for name in parsed.SCHEMA.names[1:]]
    return pa.Table.from_arrays([inner, *rest], schema=parsed.SCHEMA)


def _data_other(table: Any, i: int) -> bool:
    data = table.column("data").combine_chunks()
    return any(data.field(k)[i].is_valid for k in range(data.type.num_fields)
               if data.type.field(k).name not in parsed.DATA.names)


def _events(n: int, seed: int) -> list[bytes]:
    raws = synthetic(n, 2, 1, seed=seed)
    return [encode_event(decode_dict(raw), with_store_fields=False) for raw in raws]


def test_every_stored_kind_of_event_keeps_a_line_that_reads_back_as_its_parse() -> None:
    payloads = _events(3000, 5) + [encode_event(e, with_store_fields=False) for e in history(4, 0.02)]
    types = {orjson.loads(p)["type"] for p in payloads}
    assert {"placement.started", "placement.repriced", "placement.ended", "case.actualised",
            "investigation.opened", "investigation.closed", "intervention.decided", "budget.set",
            "placement.corrected", "event.retracted"} <= types
    assert all(line is not None for line in _round_trip(payloads))


BASE: dict[str, Any] = {"data": {"placement_id": "pl:1", "price_sek": 2200, "price_unit": "day",
                                 "person": "Q1", "sex": "unknown"},
                        "event_id": "5810d60e-a729-41b9-a8c1-47437abec539", "municipality": "1880",
                        "occurred_at": "2021-01-01", "recorded_at": "2021-01-01T09:00:00+00:00",
                        "stream_id": "pl:1", "type": "placement.repriced", "version": 1}


def _with(**data: Any) -> bytes:
    value = orjson.loads(_payload(BASE))
    value["data"].update(data)
    return _payload(value)


@pytest.mark.parametrize(("payload", "kept"), [
    (_with(person='Q "quoted", with commas'), True),
    (_with(person="åäö ÅÄÖ é \u2028 \t tab \\ backslash"), True),
    (_with(person=""), True),  # an empty string stays one (not null)
    (_with(person=None, unit_id=None), True),
    (_payload({**BASE, "data": None}), True),
    (_payload({k: v for k, v in BASE.items() if k != "data"}), True),
    (_payload({k: v for k, v in BASE.items() if k != "version"}), True),
    (_with(price_sek=0), True),
    (_with(price_sek=-(2**62)), True),
    (_with(person="two\nlines"), False),  # a line break in a value
    (_with(person="carriage\rreturn"), False),
    (_with(price_sek=1234.5), False),  # not a whole number: Arrow refuses the schema's int64
    (_with(price_sek="2200"), False),
    (_with(extra_key=1), True),  # a key outside the schema: kept, with OTHER
    (_payload({**BASE, "unknown": "x"}), True),
    (_payload({**BASE, "unknown": {"deep": [1, 2]}}), True),
    (_with(person={"nested": 1}), False),
    (b'{"type": 1', False),  # not JSON
])
def test_a_payload_keeps_a_line_exactly_where_it_parses_to_the_schema(payload: bytes, kept: bool) -> None:
    plain = _payload(BASE)
    lines = _round_trip([plain, payload, plain])
    assert (lines[1] is not None) == kept
    assert lines[0] is not None and lines[2] is not None  # its neighbours keep theirs


def test_random_values_read_back_as_their_parse() -> None:
    rng = random.Random(11)
    alphabet = ['"', ",", "\\", "a", "Z", "0", " ", "å", "\u00e9", "'", ";", "\t", "{", "}", "\u0000",
                "\U0001f600"]
    payloads = []
    for _ in range(400):
        value = orjson.loads(_payload(BASE))
        for name, kind in parsed.DATA_FIELDS:
            roll = rng.random()
            if roll < 0.3:
                continue  # absent
            if roll < 0.4:
                value["data"][name] = None
            elif kind == parsed.DATA.field(0).type:  # a string
                value["data"][name] = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            else:
                value["data"][name] = rng.randrange(-(2**40), 2**40)
        for name in ("event_id", "municipality", "occurred_at", "recorded_at", "stream_id", "type"):
            if rng.random() < 0.2:
                value[name] = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))
        payloads.append(_payload(value))
    lines = _round_trip(payloads)
    assert sum(line is not None for line in lines) == len(payloads)


def test_lines_that_do_not_read_back_as_many_rows_are_refused() -> None:
    lines = parsed.encode([_payload(BASE)] * 3)
    joined = b"".join(line + b"\n" for line in lines if line is not None)
    assert parsed.decode(joined, 3) is not None
    assert parsed.decode(joined, 2) is None
    assert parsed.decode(b"not,a,line\n", 1) is None
    no_data = joined.replace(b"true,", b",", 1)  # `data`'s flag missing: not a line encode makes
    assert parsed.decode(no_data, 3) is None
    assert joined.startswith(f"{parsed.VERSION},".encode())
    other = joined.replace(f"{parsed.VERSION},".encode(), f"{parsed.VERSION + 1},".encode(), 1)
    assert parsed.decode(other, 3) is None  # a line of another layout
    assert parsed.decode(joined[len(f"{parsed.VERSION}"):], 3) is None  # one of no layout


def test_what_the_edit_log_names() -> None:
    none = parsed.Edited(np.zeros(0, dtype=np.int64), None)
    some = parsed.Edited(np.array([5, 9], dtype=np.int64), None)
    old = parsed.Edited(np.array([5], dtype=np.int64), 100)
    page = np.array([6, 7, 8], dtype=np.int64)
    assert not none.touches(page) and not some.touches(page) and not old.touches(page)
    assert some.touches(np.array([1, 9, 12], dtype=np.int64)) and some.touches(np.array([5]))
    assert not some.touches(np.array([10, 11, 12], dtype=np.int64))
    assert old.touches(np.array([99, 100], dtype=np.int64)) and old.touches(np.array([150]))
    assert not old.touches(np.array([10, 99], dtype=np.int64))
    assert not some.touches(np.zeros(0, dtype=np.int64))
