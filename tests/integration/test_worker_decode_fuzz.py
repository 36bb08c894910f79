"""Consumer-side fuzzing of the projector's decode step, in process (CONVENTIONS §9): whatever bytes
arrive, the step either yields a valid stored event or a dead letter with a reason — it never raises."""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events import EventError, encode
from services.readmodel.facts import decode_stored
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
