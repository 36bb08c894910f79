"""The page-at-once manifest lines (`services.audit.manifest_block`) equal the line-by-line ones."""

from __future__ import annotations

import gzip
import hashlib
import random
from pathlib import Path

import pytest

from services.audit import digest, manifest_block
from services.audit.digest import EventDigest, read_manifest
from services.audit.source import canonical_id


def _one_by_one(positions: list[int], ids: list[str], payloads: list[bytes]) -> bytes:
    return "".join(f"{p}\t{canonical_id(e)}\t{hashlib.sha256(x).hexdigest()}\n"
                   for p, e, x in zip(positions, ids, payloads, strict=True)).encode()


@pytest.mark.parametrize("seed", range(4))
def test_lines_equal_the_line_by_line_manifest(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        n = rng.randint(1, 40)
        positions = [rng.randrange(10 ** rng.randint(1, 13)) for _ in range(n)]
        if rng.random() < 0.7:
            positions.sort()  # a page's positions ascend; any order must still come out right
        ids = ["".join(rng.choice("0123456789abcdef-x") for _ in range(32)) for _ in range(n)]
        payloads = [rng.randbytes(rng.randint(0, 60)) for _ in range(n)]
        assert manifest_block.lines(positions, ids, payloads) == _one_by_one(positions, ids, payloads)


def test_ids_of_another_form_are_left_to_the_line_by_line_way() -> None:
    assert manifest_block.lines([1], ["é" * 32], [b"x"]) is None  # 32 characters, not 32 bytes
    assert manifest_block.lines([1, 2], ["a" * 31, "a" * 33], [b"x", b"y"]) is None
    assert manifest_block.lines([1], [object()], [b"x"]) is None  # a uuid from PostgreSQL, say
    assert manifest_block.lines([-1], ["a" * 32], [b"x"]) is None
    assert manifest_block.lines([], [], []) == b""


def test_a_digest_given_made_lines_writes_and_hashes_the_same_manifest(tmp_path: Path) -> None:
    positions, ids = [7, 8, 10], ["0f" * 16, "ab" * 16, "9c" * 16]
    payloads = [b'{"a":1}', b'{"b":2}', b'{"c":3}']
    lines = b"".join(p + b"\n" for p in payloads)
    with EventDigest(tmp_path / "a.tsv.gz") as one:
        for p, e, x in zip(positions, ids, payloads, strict=True):
            one.add(p, canonical_id(e), x)
    with EventDigest(tmp_path / "b.tsv.gz") as block:
        made = manifest_block.lines(positions, ids, payloads)
        assert made is not None
        block.add_lines(7, 10, 3, lines, made)
    assert (one.sha256, one.manifest_sha256, one.count) == (block.sha256, block.manifest_sha256, block.count)
    assert list(read_manifest(tmp_path / "a.tsv.gz")) == list(read_manifest(tmp_path / "b.tsv.gz"))
    assert (tmp_path / "a.tsv.gz").read_bytes() == (tmp_path / "b.tsv.gz").read_bytes()  # no time in it


def test_a_manifest_that_cannot_be_written_fails_the_digest() -> None:
    """The writer thread's error is not lost: /dev/full refuses every write (no space left)."""
    digest = EventDigest(Path("/dev/full"))
    made = manifest_block.lines(list(range(1, 2001)), ["ab" * 16] * 2000, [b"{}"] * 2000)
    assert made is not None
    with pytest.raises(OSError):
        try:
            digest.add_lines(1, 2000, 2000, b"{}\n" * 2000, made)
            digest.add_lines(1, 2000, 2000, b"{}\n" * 2000, made)  # the first block's error, at the latest
        finally:
            digest.close()  # or here
    assert digest._writer is None and digest._file is None  # the thread and the file are let go


def test_digests_given_and_arrow_ids_give_the_same_lines() -> None:
    import pyarrow as pa

    rng = random.Random(5)
    positions = sorted(rng.sample(range(1, 10**7), 50))
    ids = [rng.randbytes(16).hex() for _ in positions]
    payloads = [rng.randbytes(rng.randint(0, 90)) for _ in positions]
    want = _one_by_one(positions, ids, payloads)
    digested = manifest_block.digests(payloads)
    assert len(digested) == 32 * len(payloads)
    assert manifest_block.lines(positions, ids, None, digested=digested) == want
    assert manifest_block.lines(positions, pa.array(ids), payloads) == want
    assert manifest_block.lines(positions[10:], pa.array(ids).slice(10), payloads[10:]) == _one_by_one(
        positions[10:], ids[10:], payloads[10:])  # an array at an offset in its buffers
    assert manifest_block.lines(positions, pa.array(["é" * 16 + "a" * 16] * 50), payloads) is None
    assert manifest_block.lines(positions, pa.array([None, *ids[1:]]), payloads) is None
    assert manifest_block.lines(positions, ids, None, digested=digested[:-1]) is None  # not one per event


def test_the_same_lines_give_the_same_manifest_file_however_they_are_split(tmp_path: Path) -> None:
    """The compressor is fed fixed pieces: 3.4 MB of lines in blocks of different sizes, same bytes."""
    rng = random.Random(5)
    lines = [f"{n}\t{rng.getrandbits(128):032x}\t{rng.getrandbits(256):064x}\n".encode()
             for n in range(33_000)]
    files = []
    for k, size in enumerate((1, 700, 20_000, len(lines))):
        path = tmp_path / f"m{k}.tsv.gz"
        out = digest._Gzip(path)
        for at in range(0, len(lines), size):
            out.write(b"".join(lines[at:at + size]))
        out.close()
        files.append(path.read_bytes())
    assert len(set(files)) == 1 and len(files[0]) < sum(map(len, lines)) * 0.6
    assert gzip.decompress(files[0]) == b"".join(lines)
