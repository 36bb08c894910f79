"""SHA-256 that can be saved part-way and resumed: the events hash of a replay checkpoint.

A proof's events hash is SHA-256 over the stored bytes of every included event in position order
(`services.audit.digest`). A replay that starts from a checkpoint (`services.audit.checkpoint`) has
not read the bytes before it, so it must resume that hash where the checkpoint left it. hashlib
cannot export a hash's inner state, so this calls OpenSSL's own SHA-256 (`SHA256_Init`,
`SHA256_Update`, `SHA256_Final` of libcrypto, the library hashlib itself runs on here) through ctypes
on a `SHA256_CTX` kept in a buffer of its own: the state is those bytes. No PyPI library exposes it
(the one that pickled hashlib's objects, `rehash`, reaches into CPython's internals). OpenSSL 3
marks these three functions deprecated but still exports them; where they are missing (another
C library, a build without them) `resumable()` is False and replays make no checkpoints.

The state is the machine's `SHA256_CTX` layout (eight 32-bit words of hash, the bit count, the
pending block, its fill and the digest length: 112 bytes), so a saved state names the library and
the byte order it was made with (`FLAVOUR`), and a checkpoint of another flavour is not taken.
Every hash is checked against hashlib once, when this module first makes one (`_checked`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import sys
from functools import cache
from typing import Any, Final

import numpy as np

CTX_SIZE: Final = 112  # sizeof(SHA256_CTX): SHA_LONG h[8], Nl, Nh, data[16]; unsigned num, md_len
_NAMES: dict[int, str] = {}  # the library's version text, by the library's id


@cache
def _lib() -> Any:
    """libcrypto with the three functions typed, or None."""
    names = ["libcrypto.so.3", "libcrypto.so.1.1", ctypes.util.find_library("crypto")]
    for name in names:
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except (OSError, AttributeError):
            continue
        init.argtypes, init.restype = [ctypes.c_void_p], ctypes.c_int
        update.argtypes, update.restype = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t], ctypes.c_int
        final.argtypes, final.restype = [ctypes.c_char_p, ctypes.c_void_p], ctypes.c_int
        version = getattr(lib, "OpenSSL_version", None)
        if version is not None:
            version.argtypes, version.restype = [ctypes.c_int], ctypes.c_char_p
        _NAMES[id(lib)] = version(0).decode() if version is not None else name
        return lib
    return None


@cache
def _checked() -> bool:
    """Whether the library's SHA-256 gives hashlib's digests, also across a saved and resumed state."""
    lib = _lib()
    if lib is None:
        return False
    data = bytes(range(256)) * 41 + b"tail"
    try:
        h = _Resumable(lib)
        h.update(data[:1000])
        h = _Resumable(lib, h.state())
        h.update(memoryview(data)[1000:])
        return h.hexdigest() == hashlib.sha256(data).hexdigest() == h.hexdigest()
    except (OSError, ValueError):
        return False


def resumable() -> bool:
    """Whether hashes made here can be saved and resumed (see the module docstring)."""
    return _checked()


def flavour() -> str:
    """What a saved state is valid for: the library and this machine's byte order."""
    lib = _lib()
    return f"{_NAMES.get(id(lib), 'none')}/{sys.byteorder}/{CTX_SIZE}"


class _Resumable:
    """A SHA-256 on OpenSSL's context in a buffer of its own (hashlib's interface, plus `state`)."""

    __slots__ = ("_ctx", "_lib")

    def __init__(self, lib: Any, state: bytes | None = None) -> None:
        self._lib = lib
        if state is None:
            self._ctx = ctypes.create_string_buffer(CTX_SIZE)
            if lib.SHA256_Init(self._ctx) != 1:
                raise OSError("SHA256_Init failed")
        else:
            if len(state) != CTX_SIZE:
                raise ValueError(f"a SHA-256 state is {CTX_SIZE} bytes, not {len(state)}")
            self._ctx = ctypes.create_string_buffer(bytes(state), CTX_SIZE)

    def update(self, data: Any) -> None:
        """Add bytes (any buffer: bytes, bytearray, memoryview, an Arrow buffer); ctypes drops the GIL."""
        if isinstance(data, bytes):
            ok = self._lib.SHA256_Update(self._ctx, data, len(data))
        else:
            view = np.frombuffer(data, dtype=np.uint8)  # no copy, whatever the buffer
            if not view.size:
                return
            ok = self._lib.SHA256_Update(self._ctx, view.ctypes.data, view.size)
        if ok != 1:
            raise OSError("SHA256_Update failed")

    def state(self) -> bytes:
        return self._ctx.raw

    def digest(self) -> bytes:
        ctx = ctypes.create_string_buffer(self._ctx.raw, CTX_SIZE)  # Final ends a copy, not this hash
        out = ctypes.create_string_buffer(32)
        if self._lib.SHA256_Final(out, ctx) != 1:
            raise OSError("SHA256_Final failed")
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()


class _Plain:
    """hashlib's SHA-256 where the library's is not at hand: the same digests, no state to save."""

    __slots__ = ("_h",)

    def __init__(self) -> None:
        self._h = hashlib.sha256()

    def update(self, data: Any) -> None:
        self._h.update(data)

    def state(self) -> bytes:
        raise ValueError("this SHA-256 cannot be saved (OpenSSL's SHA256_* functions are not at hand)")

    def digest(self) -> bytes:
        return self._h.digest()

    def hexdigest(self) -> str:
        return self._h.hexdigest()


Sha256 = _Resumable | _Plain


def new(state: bytes | None = None) -> Sha256:
    """A SHA-256, resumed from `state` (`Sha256.state()` of an earlier one) when given."""
    if resumable():
        return _Resumable(_lib(), state)
    if state is not None:
        raise ValueError("a saved SHA-256 state cannot be resumed here (no OpenSSL SHA256_* functions)")
    return _Plain()
