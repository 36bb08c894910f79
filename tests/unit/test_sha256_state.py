"""A SHA-256 saved part-way and resumed (`services.audit.sha256_state`) gives hashlib's digests, and an
`EventDigest` cut and resumed (`digest.Cut`) gives the hashes and manifest of one that never stopped."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import pyarrow as pa
import pytest

from services.audit import digest as dg
from services.audit import sha256_state


@pytest.mark.parametrize("seed", range(5))
def test_a_resumed_hash_is_hashlibs(seed: int) -> None:
    rng = random.Random(seed)
    data = rng.randbytes(rng.randint(0, 300_000))
    cuts = sorted(rng.randint(0, len(data)) for _ in range(rng.randint(0, 6)))
    h = sha256_state.new()
    at = 0
    kinds = [bytes, bytearray, memoryview, pa.py_buffer]
    for cut in [*cuts, len(data)]:
        h.update(rng.choice(kinds)(data[at:cut]))
        h = sha256_state.new(h.state())  # saved and resumed at every cut
        at = cut
    assert h.hexdigest() == hashlib.sha256(data).hexdigest()
    assert h.hexdigest() == h.hexdigest()  # taking the digest does not end the hash
    h.update(b"more")
    assert h.hexdigest() == hashlib.sha256(data + b"more").hexdigest()


def test_a_state_of_another_size_is_refused() -> None:
    with pytest.raises(ValueError, match="112 bytes"):
        sha256_state.new(b"\0" * 100)


def _events(n: int, seed: int) -> list[tuple[int, str, bytes]]:
    rng = random.Random(seed)
    return [(10 * i + 1, f"{rng.getrandbits(128):032x}", rng.randbytes(rng.randint(1, 300)))
            for i in range(n)]


@pytest.mark.parametrize("cut_at", [0, 1, 137, 499, 500])
def test_a_digest_cut_and_resumed_equals_one_that_never_stopped(tmp_path: Path, cut_at: int) -> None:
    events = _events(500, cut_at)
    with dg.EventDigest(tmp_path / "whole.gz") as whole:
        for position, eid, raw in events:
            whole.add(position, eid, raw)
    with dg.EventDigest(tmp_path / "first.gz") as first:
        for position, eid, raw in events[:cut_at]:
            first.add(position, eid, raw)
        cut = first.cut()
        for position, eid, raw in events[cut_at:]:  # the same digest goes on after its cut
            first.add(position, eid, raw)
    prefix = tmp_path / "prefix.gz"
    prefix.write_bytes((tmp_path / "first.gz").read_bytes()[:cut.manifest_size])
    with dg.EventDigest(tmp_path / "resumed.gz", resume=(cut, prefix)) as resumed:
        block = events[cut_at:]
        if block:  # a page at once, as the columnar replay adds them
            shas = [hashlib.sha256(raw).hexdigest() for _, _, raw in block]
            resumed.add_listed([p for p, _, _ in block], [e for _, e, _ in block], shas,
                               b"".join(raw + b"\n" for _, _, raw in block))
    def seen(d: dg.EventDigest) -> tuple[object, ...]:
        return d.sha256, d.manifest_sha256, d.count, d.first_position, d.last_position

    assert seen(first) == seen(resumed) == seen(whole)
    lines = gzip.decompress((tmp_path / "whole.gz").read_bytes())
    assert gzip.decompress((tmp_path / "first.gz").read_bytes()) == lines  # two gzip members, one stream
    assert gzip.decompress((tmp_path / "resumed.gz").read_bytes()) == lines
    assert [e.position for e in dg.read_manifest(tmp_path / "resumed.gz")] == [p for p, _, _ in events]
    assert whole.sha256 == hashlib.sha256(b"".join(raw + b"\n" for _, _, raw in events)).hexdigest()


def test_resuming_a_manifest_needs_the_lines_before_the_cut(tmp_path: Path) -> None:
    with dg.EventDigest(tmp_path / "a.gz") as d:
        cut = d.cut()
    with pytest.raises(ValueError, match="manifest written before the cut"):
        dg.EventDigest(tmp_path / "b.gz", resume=(cut, None))


def test_this_machine_can_save_a_sha256_state() -> None:
    """Checkpoints need it: CI's machines have OpenSSL's SHA256_* functions (libcrypto 3)."""
    assert sha256_state.resumable(), sha256_state.flavour()
