"""Small statistics for the simulated forecast: random streams, Poisson draws, percentiles, öre rounding.

* `stream(root, name)` — an independent `random.Random` per named thing (a placement, a line),
  seeded from SHA-256 of (root, name): deterministic across processes (Python's `hash` is salted).
* `quantile` — linear interpolation between order statistics (numpy's default, "type 7").
* `to_sek` — the edge between the float simulation and exact money: half up to whole öre.
"""

from __future__ import annotations

import hashlib
import math
import random
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction


def stream(root: int, name: str) -> random.Random:
    """The random stream of one named thing under a root seed."""
    digest = hashlib.sha256(f"{root}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson count by inversion (normal approximation above 500)."""
    if lam <= 0.0:
        return 0
    if lam > 500.0:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    u, k, p = rng.random(), 0, math.exp(-lam)
    s = p
    while u > s and k < 10 * lam + 50:
        k += 1
        p *= lam / k
        s += p
    return k


def quantile(ordered: list[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, "type 7")."""
    if not ordered:
        return 0.0
    h = (len(ordered) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (h - lo) * (ordered[hi] - ordered[lo])


def to_sek(value: float) -> Fraction:
    """A float of SEK rounded half up to whole öre, as an exact Fraction (the edge of the simulation)."""
    return Fraction(Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
