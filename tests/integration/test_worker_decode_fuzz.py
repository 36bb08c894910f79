"""Consumer-side fuzzing of the projector's decode step, in process (CONVENTIONS §9): whatever bytes
arrive, the step either yields a valid stored event or a dead letter with a reason — it never raises."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import EventError, encode
from services.readmodel.facts import _envelopes, decode_fast, decode_stored
from services.worker.projector import Projector
from tests.integration.pipeline_kit import Record, history

STORED = [e.model_copy(update={"position": i + 1}) for i, e in enumerate(history(51, 60))]
VALID = [orjson.loads(encode(e)) for e in STORED]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid stored event with one field replaced, removed or added (keys of any depth)."""
    raw = dict(draw(st.sampled_from(VALID)))
    target = raw if draw(st.booleans()) or not isinstance(raw.get("data"), dict) else dict(raw["data"])
    key = draw(st.sampled_from(sorted(target)) | st.text(max_size=8))
    action = draw(st.sampled_from(["replace", "remove", "add"]))
    if action == "remove":
        target.pop(key, None)
    else:
        target[key] = draw(json_values)
    if target is not raw:
        raw["data"] = target
    return orjson.dumps(raw)


def _decode_or_reason(payload: bytes) -> None:
    try:
        event = decode_stored(payload)
    except EventError as exc:
        assert exc.message
    else:
        assert event.position is not None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300) | json_values.map(orjson.dumps))
def test_arbitrary_bytes_decode_or_give_a_reason(payload: bytes) -> None:
    _decode_or_reason(payload)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_events_decode_or_give_a_reason(payload: bytes) -> None:
    _decode_or_reason(payload)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutated() | st.binary(max_size=100), min_size=1, max_size=20))
def test_the_projector_step_never_raises_on_a_poisoned_batch(tmp_path_factory, payloads: list[bytes]) -> None:
    from services.readmodel.persist import open_readmodel

    engine = open_readmodel(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/rm.db")
    records = [Record(0, i, p, []) for i, p in enumerate(payloads)]
    out = Projector(engine).process({0: records})
    assert out.applied + out.skipped + len(out.dead) == len(payloads)
    assert all(d.reason for d in out.dead)


def _outcome(decode: object, payload: bytes) -> object:
    try:
        return decode(payload)  # type: ignore[operator]
    except EventError as exc:
        return exc.message


TOKENS = [b"NaN", b"Infinity", b"-Infinity", b"1" * 20, b"-" + b"9" * 25, b"18446744073709551616", b"1e400"]


@st.composite
def tricky(draw: st.DrawFn) -> bytes:
    """A valid stored event with one JSON value replaced by a token orjson and pydantic-core may read
    differently (non-finite numbers, integers beyond 64 bits) or a string with escapes."""
    payload = orjson.dumps(draw(st.sampled_from(VALID)))
    raw = orjson.loads(payload)
    target = raw if draw(st.booleans()) else raw["data"]
    key = draw(st.sampled_from(sorted(target)))
    marker = "\x00MARK\x00"
    target[key] = draw(st.sampled_from([marker, "a\\\"b", "\u00e5\u00e4\u00f6\n", "\ud7ff"]))
    out = orjson.dumps(raw)
    if marker.encode() in out or b'"\\u0000MARK\\u0000"' in out:
        out = out.replace(b'"\\u0000MARK\\u0000"', draw(st.sampled_from(TOKENS)))
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated() | tricky() | st.binary(max_size=200))
def test_the_fast_path_decides_like_the_full_path(payload: bytes) -> None:
    """`decode_fast` (pydantic-core over the bytes) gives the event or the reason `decode_stored` gives."""
    assert _outcome(decode_fast, payload) == _outcome(decode_stored, payload)


def test_no_schema_type_accepts_a_non_finite_number() -> None:
    """Why the fast path needs no NaN/Infinity scan: no float or free-form field anywhere in the models."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("type"), str):
                found.add(node["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list | tuple):
            for value in node:
                walk(value)

    walk(_envelopes().core_schema)
    assert not found & {"float", "any", "dict", "json", "json-or-python", "complex"}, found


def test_a_position_beyond_bigint_is_a_dead_letter() -> None:
    raw = dict(VALID[0], position=2**63)
    for decode in (decode_fast, decode_stored):
        assert "over the largest store position" in str(_outcome(decode, orjson.dumps(raw)))


def test_a_version_given_as_true_or_a_float_is_refused_by_both_paths() -> None:
    """Found by the fuzz above (CI, stop 18): JSON `true` passed pydantic's lax `Literal[1]` as version 1."""
    for version in (True, 1.0, "1"):
        raw = orjson.dumps(dict(VALID[0], version=version))
        for decode in (decode_fast, decode_stored):
            assert "unknown version" in str(_outcome(decode, raw)), (decode.__name__, version)
