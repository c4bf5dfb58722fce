"""Spec values as Docker stores them: strings, and order-free (key, value) pairs."""

from __future__ import annotations

from typing import Any


def scalar(value: Any) -> str:
    """An env or label value as Docker stores it: YAML's `true` is "true", not "True"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def pairs(mapping: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A str->scalar mapping as sorted (key, value) pairs: the model's order-free form."""
    return tuple(sorted((str(k), scalar(v)) for k, v in (mapping or {}).items()))
