"""Secret env entries: which ones are secret, and masking them for display (pure, reusable).

An env entry is secret when it is a mapping with `secret: true` or a `from_file`. Its value is
resolved only at apply time; everywhere else (config output, plans, logs, errors) it shows as ***.
"""

from __future__ import annotations

from typing import Any

from aifo.masking import MASK

_VALUE_KEYS = ("value", "default")


def is_secret_entry(value: Any) -> bool:
    """True for `{value|from_host: ..., secret: true}` and for any `{from_file: ...}`."""
    return isinstance(value, dict) and (value.get("secret") is True or "from_file" in value)


def mask(data: Any) -> Any:
    """A copy of `data` where every secret entry's value (and default) reads `***`."""
    if isinstance(data, dict):
        if is_secret_entry(data):
            return {k: (MASK if k in _VALUE_KEYS else mask(v)) for k, v in data.items()}
        return {k: mask(v) for k, v in data.items()}
    if isinstance(data, list):
        return [mask(v) for v in data]
    return data
