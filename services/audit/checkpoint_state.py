"""The restricted unpickler of a replay checkpoint's state (`services.audit.checkpoint`).

The state is a pickle of the projections' own dataclasses. It is read by an unpickler that builds
only those dataclasses, the events' pydantic models (whose fields it sets, no call) and enums, and a
few value types (dates, Decimal, UUID, array, Counter, time zones), and refuses any other name, so a
file put in a checkpoint folder cannot run code.
"""

from __future__ import annotations

import dataclasses
import enum
import io
import pickle
import sys
import zoneinfo
from typing import Any, Final

from pydantic import BaseModel

from projections import bundle

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


class _Unpickler(pickle.Unpickler):
    """Builds the projections' dataclasses, the events' models and enums, and the value types above;
    nothing else (an enum or a time zone is rebuilt through `_attribute`)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("builtins", "getattr"):
            return _attribute
        if (module, name) in _VALUES:
            return super().find_class(module, name)
        owner = sys.modules.get(module) if module.startswith(("projections.", "events.")) else None
        found = getattr(owner, name, None) if owner is not None else None
        if isinstance(found, type) and (dataclasses.is_dataclass(found)
                                        or issubclass(found, enum.Enum | BaseModel)):
            return found  # facts and the events' values they hold (pydantic models: fields set, no call)
        raise pickle.UnpicklingError(f"a checkpoint's state may not name {module}.{name}")


def load_state(data: bytes) -> bundle.State:
    state = _Unpickler(io.BytesIO(data)).load()
    if not isinstance(state, bundle.State):
        raise pickle.UnpicklingError(f"a checkpoint's state is a {type(state).__name__}, not a bundle.State")
    return state
