"""Durations and sizes as the spec writes them."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)\Z")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_SIZE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?\Z", re.IGNORECASE)
_POWERS = {"": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4}


def seconds(value: str | float | int) -> float:
    """`"500ms"`, `"5s"`, `"2m"`, `"1h"` or a number of seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r}")
    return float(match.group(1)) * _SCALE[match.group(2)]


def size_bytes(value: str | int) -> int:
    """`"512m"`, `"2g"`, `"64k"` (binary units, as Docker reads them) or a number of bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value.strip())
    if not match:
        raise ValueError(f"not a size: {value!r}")
    return int(float(match.group(1)) * 1024 ** _POWERS[match.group(2).lower()])
