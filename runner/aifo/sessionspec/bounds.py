"""Sizes and durations within what Docker stores: 64-bit byte counts and 64-bit nanoseconds.

Checked at validation, so an overflowing value is a located error, never a crash at compile or
apply. Pure; the parsing itself is aifo.values.units'.
"""

from __future__ import annotations

import math
from typing import Any

from aifo.values import units

MAX_BYTES = 2**63 - 1
MAX_SECONDS = (2**63 - 1) // 1_000_000_000  # about 292 years


def size_problem(value: Any) -> str | None:
    try:
        size = units.size_bytes(value)
    except (ValueError, OverflowError):
        return f"{_short(value)} is not a size Docker can store (at most {MAX_BYTES} bytes)"
    if size > MAX_BYTES:
        return f"{_short(value)} is over {MAX_BYTES} bytes, the most Docker can store"
    return None


def duration_problem(value: Any) -> str | None:
    try:
        seconds = units.seconds(value)
    except (ValueError, OverflowError):
        return f"{_short(value)} is not a duration"
    if not math.isfinite(seconds) or seconds > MAX_SECONDS:
        return f"{_short(value)} is over {MAX_SECONDS} seconds, the most Docker can store"
    return None


def _short(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
