"""The compact states' id index (`projections.id_index.Ids`) against the dict it stands for."""

from __future__ import annotations

import pickle
import random

import numpy as np
import pytest

from projections.id_index import Ids


def _ids(rng: random.Random, n: int) -> list[str]:
    """Ids of uneven length, some sharing prefixes, some not ASCII, one empty."""
    shapes = ["pl:1880:{}", "pl:1880:{}-å", "inv:{}", "{}", "pl:1880:{}0000000000000000"]
    out = {rng.choice(shapes).format(rng.randrange(10**rng.randrange(1, 7))) for _ in range(n)}
    return sorted(out | {""}, key=lambda _: rng.random())


def _check(index: Ids, model: dict[str, int], absent: list[str]) -> None:
    assert len(index) == len(model)
    assert list(index) == list(model)  # row order, as the dict numbered on insertion
    assert list(index.numbered()) == list(model.items())
    for key in [*model, *absent]:
        assert index.get(key) == model.get(key)
        assert (key in index) == (key in model)
    rows = np.array(sorted(random.Random(len(model)).sample(range(len(model)), min(50, len(model)))),
                    dtype=np.int64)
    assert index.ids_of(rows) == [list(model)[r] for r in rows.tolist()]
    assert index == model and index == Ids.taking(dict(model))  # the Mapping's equality


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_index_packed_in_parts_reads_as_the_dict(seed: int) -> None:
    rng = random.Random(seed)
    keys = _ids(rng, 3000)
    absent = ["nope", "pl:1880:", "pl:1880:10000000000000000000000000000", "\x00", "pl:1880:1\x00", "x" * 200]
    absent = [a for a in absent if a not in keys]
    index, model = Ids(), {}
    for part in np.array_split(np.arange(len(keys)), 5):
        for k in part.tolist():
            assert index.add(keys[k]) == len(model)
            model[keys[k]] = len(model)
        _check(index, model, absent)
        index.pack()
        assert not index.tail and index.packed_count() == len(model)
        _check(index, model, absent)
    back = pickle.loads(pickle.dumps(index, protocol=5))
    _check(back, model, absent)


def test_rows_of_finds_packed_and_tail_ids_and_numbers_new_ones_in_order() -> None:
    index = Ids.taking({"a": 0, "bb": 1, "ccc": 2})
    index.pack()
    index.add("dddd")
    rows, fresh = index.rows_of(["ccc", "new1", "dddd", "a", "new1", "new2", "ccc\x00", "cc", "ccc "])
    assert rows.tolist() == [2, 4, 3, 0, 4, 5, 6, 7, 8] and fresh == 5
    assert list(index) == ["a", "bb", "ccc", "dddd", "new1", "new2", "ccc\x00", "cc", "ccc "]
    empty = Ids()
    rows, fresh = empty.rows_of(["x", "y", "x"])
    assert rows.tolist() == [0, 1, 0] and fresh == 2


def test_an_id_with_a_zero_byte_or_no_string_keeps_the_index_a_dict() -> None:
    index = Ids.taking({"a": 0, "b\x00": 1})
    index.pack()
    assert index.packed_count() == 0 and index.get("b\x00") == 1 and index.get("b") is None
    odd = Ids.taking({"a": 0, 7: 1})  # type: ignore[dict-item]
    odd.pack()
    assert odd.packed_count() == 0 and odd.get(7) == 1  # type: ignore[arg-type]
    skipped = Ids.taking({"a": 1, "b": 0})  # not numbered in order: left as it is
    skipped.pack()
    assert skipped.packed_count() == 0 and skipped["a"] == 1
    with pytest.raises(KeyError):
        skipped["c"]


def test_pickling_packs_and_a_damaged_state_is_refused() -> None:
    index = Ids.taking({f"pl:{i}": i for i in range(100)})
    data = pickle.dumps(index, protocol=5)
    assert index.packed_count() == 100 and not index.tail  # packed in place
    assert pickle.loads(data) == index
    broken = Ids()
    with pytest.raises(ValueError, match="not \\(dict, int, bytes, bytes\\)"):
        broken.__setstate__(({}, "4", b"", b""))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="16 row bytes and 5 id bytes of width 4"):
        broken.__setstate__(({}, 4, b"abcde", bytes(16)))
    with pytest.raises(ValueError, match=r"rows lie outside 0\.\.1"):
        broken.__setstate__(({}, 1, b"ab", np.array([0, 2], dtype="<i8").tobytes()))
