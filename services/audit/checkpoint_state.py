"""The restricted unpickler of a replay checkpoint's state (`services.audit.checkpoint`).

The state is a pickle of the projections' own dataclasses. It is read by an unpickler that builds
only those dataclasses, the events' pydantic models (whose fields it sets, no call) and enums, and a
few value types (dates, Decimal, UUID, array, Counter, time zones), and refuses any other name, so a
file put in a checkpoint folder cannot run code. The compact states' id indexes pickle packed
(`projections.id_index`), Counters as plain dicts (`_Pickler`), and the file is compressed (`packed`).
"""

from __future__ import annotations

import dataclasses
import enum
import io
import pickle
import sys
import zoneinfo
from collections import Counter
from typing import Any, Final

import pyarrow as pa
from pydantic import BaseModel

from projections import bundle
from services.audit import collector

_VALUES: Final = frozenset({
    ("array", "array"), ("array", "_array_reconstructor"), ("collections", "Counter"),
    ("collections", "defaultdict"), ("collections", "OrderedDict"), ("datetime", "date"),
    ("datetime", "datetime"), ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"),
    ("fractions", "Fraction"), ("uuid", "UUID"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "list"), ("builtins", "dict"), ("builtins", "tuple"), ("builtins", "int"),
    ("zoneinfo", "ZoneInfo"), ("pydantic_core._pydantic_core", "TzInfo"),  # a fixed offset, as parsed
})


def _attribute(owner: Any, name: str) -> Any:
    """The `getattr` a pickle may call: a time zone's own unpickler (how `ZoneInfo` pickles) or an
    allowed enum's member, nothing else (a general getattr would reach any function's globals)."""
    if owner is zoneinfo.ZoneInfo and name == "_unpickle":
        return zoneinfo.ZoneInfo._unpickle  # type: ignore[attr-defined]
    if isinstance(owner, type) and issubclass(owner, enum.Enum) and name in owner.__members__:
        return owner.__members__[name]
    raise pickle.UnpicklingError(f"a checkpoint's state may not take {name!r} of {owner!r}")


class _Pickler(pickle.Pickler):
    """A `Counter` is pickled as its plain dict, read back by `_counter`: `Counter(d)` (how a Counter
    pickles) goes through `update`'s Mapping test, 12 µs each; the 10 M store's states hold 5 343 of
    them (0.063 s of reading one back). (The compact states' id indexes pickle packed themselves:
    `projections.id_index`.)"""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is Counter:
            return _counter, (dict(obj),)
        return NotImplemented


def _counter(counts: dict[Any, Any]) -> Counter[Any]:
    """A `Counter` pickled by `_Pickler`: its counts as they were (no `update`, no test)."""
    if type(counts) is not dict:
        raise pickle.UnpicklingError(f"a checkpoint's Counter is a {type(counts).__name__}, not a dict")
    out: Counter[Any] = Counter.__new__(Counter)
    dict.update(out, counts)
    return out


def dump_state(state: bundle.State) -> bytes:
    out = io.BytesIO()
    _Pickler(out, protocol=5).dump(state)
    return out.getvalue()


# A state is kept compressed: Zstandard at level 1, through Arrow's codec (pyarrow is already the
# replay's parser). Measured on the 10 M store's largest prepared state (75 MB pickled): 29 MB, 0.17 s
# to compress and 0.085 s to decompress; LZ4 gave 41 MB, 0.11 s and 0.05 s; level 3, 28.9 MB and 0.25 s.
# So every month end of the history can be prepared in the storage 28 uncompressed states took
# (`services.audit.prepare`).
CODEC: Final = "zstd"
_LEVEL: Final = 1
_MOST_RATIO: Final = 100  # pickled bytes to a compressed byte, at most (2.6 measured)


def packed(data: bytes) -> bytes:
    """A dumped state, compressed for its file."""
    return bytes(pa.Codec(CODEC, compression_level=_LEVEL).compress(data, asbytes=True))


def unpacked(data: bytes, size: int) -> bytes:
    """A state file's bytes decompressed to the `size` bytes dumped (`packed`)."""
    if size < 0 or size > _MOST_RATIO * len(data) + 2**20:  # a damaged record: no allocation of it
        raise ValueError(f"a state of {size} bytes from a file of {len(data)}")
    out = bytes(pa.Codec(CODEC).decompress(data, decompressed_size=size, asbytes=True))
    if len(out) != size:
        raise ValueError(f"a state decompressed to {len(out)} bytes, not {size}")
    return out


class _Unpickler(pickle.Unpickler):
    """Builds the projections' dataclasses, the events' models and enums, and the value types above;
    nothing else (an enum or a time zone is rebuilt through `_attribute`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _attribute
        if (module, name) == (__name__, "_counter"):
            return _counter
        if (module, name) in _VALUES:
            return super().find_class(module, name)
        owner = sys.modules.get(module) if module.startswith(("projections.", "events.")) else None
        found = getattr(owner, name, None) if owner is not None else None
        if isinstance(found, type) and (dataclasses.is_dataclass(found)
                                        or issubclass(found, enum.Enum | BaseModel)):
            return found  # facts and the events' values they hold (pydantic models: fields set, no call)
        raise pickle.UnpicklingError(f"a checkpoint's state may not name {module}.{name}")


def load_state(data: bytes) -> bundle.State:
    with collector.paused():  # millions of acyclic values (`services.audit.collector`)
        state = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(state, bundle.State):
        raise pickle.UnpicklingError(f"a checkpoint's state is a {type(state).__name__}, not a bundle.State")
    return state
