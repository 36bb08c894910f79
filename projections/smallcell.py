"""Small-cell protection (röjandeskydd för små tal): the one rule every output applies (CONVENTIONS §7).

A count of persons or cases below the threshold (default 5) is shown as "<5" whenever it is broken down
below the whole municipality and period (by unit, category, sex, age, month), and so is an average
computed over fewer than that many persons. Municipality-wide totals are shown as they are.
The UI, downloads, metrics and reports all call `protect` / `suppressed`; nobody re-implements it.
"""

from __future__ import annotations

from typing import Final, TypeVar

DEFAULT_THRESHOLD: Final = 5

T = TypeVar("T")


def suppressed(count: int | None, *, threshold: int = DEFAULT_THRESHOLD, breakdown: bool = True) -> bool:
    """True when a cell counting `count` persons/cases must not be shown (0 is shown: nobody to reveal)."""
    if count is None or not breakdown:
        return False
    return 0 < count < threshold


def label(threshold: int = DEFAULT_THRESHOLD) -> str:
    return f"<{threshold}"


def protect(value: T, persons: int | None, *, threshold: int = DEFAULT_THRESHOLD,
            breakdown: bool = True) -> T | str:
    """The value to display: itself, or "<threshold" when it rests on too few persons or cases."""
    return label(threshold) if suppressed(persons, threshold=threshold, breakdown=breakdown) else value
